"""Panels drawn as grey images: one shape per panel, its type, size and grey level from the matrix.

RAVEN renders 160x160 panels; the NVSA and PrAE releases resize them to 80x80 before the CNN.
Drawing is PIL's polygon fill (a dependency of torchvision), deterministic for a given matrix.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from .matrices import Matrix

SIDES = (3, 4, 5, 6, 0)  # triangle, square, pentagon, hexagon, circle (0: an ellipse)


def _panel(type_: int, size: int, color: int, sizes: dict[str, int], px: int) -> np.ndarray:
    img = Image.new("L", (px, px), 255)
    draw = ImageDraw.Draw(img)
    radius = px * (0.15 + 0.3 * (size + 1) / sizes["size"])
    grey = int(255 * (1 - (color + 1) / (sizes["color"] + 1)))
    c = px / 2
    sides = SIDES[type_ % len(SIDES)] + 3 * (type_ // len(SIDES))  # more types than RAVEN's: more sides
    if sides == 0:
        draw.ellipse([c - radius, c - radius, c + radius, c + radius], fill=grey, outline=0)
    else:
        pts = [(c + radius * math.sin(2 * math.pi * i / sides), c - radius * math.cos(2 * math.pi * i / sides))
               for i in range(sides)]
        draw.polygon(pts, fill=grey, outline=0)
    return np.asarray(img, dtype=np.float32) / 255.0


def render_matrix(m: Matrix, px: int = 80) -> np.ndarray:
    """``[16, px, px]`` floats in [0, 1]: the 8 context panels (row-major, the answer left out), then
    the 8 candidates."""
    panels = [m.grid[r, c] for r in range(3) for c in range(3) if (r, c) != (2, 2)] + list(m.candidates)
    return np.stack([_panel(int(p[0]), int(p[1]), int(p[2]), m.sizes, px) for p in panels])
