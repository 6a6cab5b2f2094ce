"""The synthetic datasets' JSON and PNG writers, both atomic.

A dataset folder may be read by one run while another (or a test beside it) writes it, and an
interrupted generation must not leave a truncated file that looks complete. Both writers go
through the project's one atomic writer (``nscharacterize/core/fileio.py``: temporary file beside the
target, rename over it, the user's umask).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from nscharacterize.core.fileio import atomic_write


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Writes ``obj`` as compact JSON, atomically."""
    def dump(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(obj, f)
    return atomic_write(path, dump)


def write_png(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Writes a uint8 image ([H, W, 3] RGB or [H, W] grey) as PNG, atomically."""
    from PIL import Image

    image = Image.fromarray(array)
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))
