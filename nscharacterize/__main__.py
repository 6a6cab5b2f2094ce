"""``python -m nscharacterize``: the same command line as the ``nscharacterize`` script, for an
environment whose scripts folder is not on PATH."""
import sys

from nscharacterize.cli import main

sys.exit(main())
