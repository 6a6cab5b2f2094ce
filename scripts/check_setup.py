"""Checks the set `make setup` installed, in place of pip's check of OpenNMT-py's pins, and says
what was done in one line.

OpenNMT-py 3.5.1 declares torch<2.3 (and optional extras), which this project's torch does not
meet; it is installed with --no-deps because the parts the question parser uses run with current
torch. Instead of pip's resolver, this imports what the parser imports, so a broken install
fails here, loudly, and a working one prints one line rather than pip's ERROR block.
"""
from __future__ import annotations

import sys
import warnings
from importlib import metadata


def main() -> int:
    try:
        import torch
        with warnings.catch_warnings():  # its own deprecation notices about torch.cuda.amp
            warnings.simplefilter("ignore")
            import onmt.decoders.transformer  # noqa: F401  (what nscharacterize/workloads/parsers/question.py builds on)
            import onmt.encoders.transformer  # noqa: F401
    except Exception as exc:  # any import failure is a broken setup
        print(f"setup check: FAILED: OpenNMT-py does not import here ({type(exc).__name__}: {exc})",
              file=sys.stderr)
        return 1
    print(f"setup check: OpenNMT-py {metadata.version('OpenNMT-py')} installed without its declared pins "
          f"(torch<2.3), checked instead: the question parser's modules import with torch {torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
