"""Checks the set `make setup` installed, in place of pip's check of OpenNMT-py's pins, and says
what was done in one line.

OpenNMT-py 3.5.1 declares torch<2.3 (and optional extras), which this project's torch does not
meet; it is installed with --no-deps because the parts the question parser uses run with current
torch. Instead of pip's resolver, this imports what the parser imports, so a broken install
fails here, loudly, and a working one prints one line rather than pip's ERROR block.

One exception: OpenNMT-py imports its tokenizer, pyonmttok, whose releases (1.38.1, the last) are
built for CPython up to 3.12 and have no source distribution. On Python 3.13+ the install fails
there, and the question parser falls back to its torch backend (the same Transformer-base layers
from ``torch.nn``: nscharacterize/workloads/parsers/question.py), which every run records as its
``question_parser.backend``. That is said in one line and is not a failure; a missing OpenNMT-py
on a Python it installs on (a cut download) still is.
"""
from __future__ import annotations

import importlib.util
import sys
import warnings
from importlib import metadata

# The first Python without a pyonmttok build (see above).
NO_TOKENIZER_BUILD = (3, 13)


def main() -> int:
    error: Exception | None = None
    try:
        import torch
        with warnings.catch_warnings():  # its own deprecation notices about torch.cuda.amp
            warnings.simplefilter("ignore")
            import onmt.decoders.transformer  # noqa: F401  (what nscharacterize/workloads/parsers/question.py builds on)
            import onmt.encoders.transformer  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure is judged below
        error = exc
    status, line = verdict(sys.version_info[:2], importlib.util.find_spec("pyonmttok") is not None, error)
    if status == 0 and error is None:
        line += f" with torch {torch.__version__}"
    print(line, file=sys.stderr if status else sys.stdout)
    return status


def verdict(version: tuple[int, int], tokenizer_installed: bool, error: Exception | None) -> tuple[int, str]:
    """Exit status and the one line: OpenNMT-py imports (0); it does not, on a Python its tokenizer
    has no build for, where it is left out (0); it does not import anywhere else (1)."""
    if error is None:
        return 0, (f"setup check: OpenNMT-py {metadata.version('OpenNMT-py')} installed without its declared pins "
                   "(torch<2.3), checked instead: the question parser's modules import")
    if version >= NO_TOKENIZER_BUILD and not tokenizer_installed:
        return 0, (f"setup check: OpenNMT-py left out: its tokenizer (pyonmttok) has no build for Python "
                   f"{version[0]}.{version[1]} (pip's error above); the NSCL question parser runs on its torch "
                   "backend, the same Transformer-base layers from torch.nn (each run records "
                   "question_parser.backend). Python 3.10-3.12 runs it on OpenNMT-py's own modules.")
    return 1, f"setup check: FAILED: OpenNMT-py does not import here ({type(error).__name__}: {error})"


if __name__ == "__main__":
    sys.exit(main())
