"""Pausing Python's garbage collector around work that allocates many objects and no cycles.

Reading a large trace and building its tables creates millions of small objects; each young
generation that fills up triggers a collection that walks them all again, for nothing. Used as a
context manager or as a decorator (``@gc_paused()``).

``release_freed_memory`` hands the heap pages such work freed back to the system: a read trace's
decoded records are freed once its tables exist, but glibc keeps the pages for reuse, so the
next step's peak would stack on them (issue 22: 30 MB of a 50 MB trace)."""
from __future__ import annotations

import contextlib
import ctypes
import gc
import sys


@contextlib.contextmanager
def gc_paused():
    """No garbage collection inside the block (re-enabled after, if it was on)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _malloc_trim():
    """glibc's ``malloc_trim``, or None (another platform or libc)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):   # musl or another libc: nothing to trim this way
        return None


_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Free heap pages go back to the system (``malloc_trim(0)``; a no-op without glibc)."""
    if _TRIM is not None:
        _TRIM(0)
