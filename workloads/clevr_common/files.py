"""Atomic writers for the synthetic datasets' JSON and PNG files.

A dataset folder may be read by one run while another (or a test beside it) writes it, and an
interrupted generation must not leave a truncated file that looks complete. Every file is
therefore written to a temporary name in the same folder and renamed over the target.

``atomic_write(path, write_fn)`` has the signature of the project-wide writer planned for
``nscharacterize/fileio.py``; once that lands, this module's ``atomic_write`` can become an import.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write_fn: Callable[[str], Any]) -> Path:
    """Calls ``write_fn(tmp)`` on a temporary file beside ``path``, then renames it to ``path``."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())        # mkstemp makes 0600; give the usual permissions
        write_fn(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


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
