"""Pausing Python's garbage collector around work that allocates many objects and no cycles.

Reading a large trace and building its tables creates millions of small objects; each young
generation that fills up triggers a collection that walks them all again, for nothing. Used as a
context manager or as a decorator (``@gc_paused()``)."""
from __future__ import annotations

import contextlib
import gc


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
