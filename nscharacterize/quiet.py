"""Keeps the terminal for the tool's own lines while a run profiles: everything else goes to run.log.

Profiled code talks on two channels the tool does not own: Python warnings (a workload's
sparse-tensor notices, deprecations of the libraries it calls) and C++ lines written straight to
file descriptor 2 (torch's ``[W... CPUAllocator.cpp:245] Memory block of unknown size ...`` when a
profile sees a tensor freed that it never saw allocated). Both are worth keeping and neither
belongs between a progress bar and a table, so during a run:

* Python warnings go through ``logging`` (``logging.captureWarnings``) to the run's log handler;
* descriptor 2 itself points at run.log, so native lines (and anything a workload prints to
  ``sys.stderr``) land there too.

The tool's own terminal output (the progress bar) writes to :func:`terminal_stream`, a duplicate
of the descriptor 2 the process started with, taken before the switch.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Iterator, TextIO


STDERR_FD = 2   # native code writes here, whatever sys.stderr is


def terminal_stream() -> TextIO:
    """A text stream on the terminal's stderr that stays there while :func:`stderr_to` is active."""
    _flush()
    return os.fdopen(os.dup(STDERR_FD), "w", buffering=1, encoding="utf-8", errors="replace")


def _flush() -> None:
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError, OSError):  # closed or absent
        pass


@contextlib.contextmanager
def stderr_to(log_path: str | Path, handler: logging.Handler) -> Iterator[None]:
    """Sends Python warnings to ``handler`` and descriptor 2 to ``log_path`` (appended) until exit."""
    warnings_log = logging.getLogger("py.warnings")
    warnings_log.addHandler(handler)
    logging.captureWarnings(True)
    _flush()
    saved = os.dup(STDERR_FD)
    target = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    os.dup2(target, STDERR_FD)
    os.close(target)
    try:
        yield
    finally:
        _flush()
        os.dup2(saved, STDERR_FD)
        os.close(saved)
        logging.captureWarnings(False)
        warnings_log.removeHandler(handler)
