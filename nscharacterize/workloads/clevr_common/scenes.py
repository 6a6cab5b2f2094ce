"""Synthetic CLEVR scenes: objects placed on the ground plane, CLEVR relationships, file names.

Scene ``i`` comes from its own generator seeded by ``(seed, i)``, so asking for more images later
does not change the first ones. Each object also gets a ``bbox`` (x0, y0, x1, y1 pixels), standing
in for the Mask R-CNN boxes NS-VQA precomputed.
"""
from __future__ import annotations

import numpy as np

from .attributes import ATTRIBUTES

WIDTH, HEIGHT = 480, 320
WORLD_RADIUS = {"large": 0.7, "small": 0.35}


def _project(x: float, y: float) -> tuple[float, float, float]:
    """Ground point (x right, y towards the camera) -> (u, v, scale)."""
    t = (y + 3.0) / 6.0
    s = 0.6 + 0.7 * t
    return WIDTH / 2 + x * 62.0 * s, 95.0 + 190.0 * t, s


def make_scene(seed: int, index: int, min_objects: int = 3, max_objects: int = 10, split: str = "val") -> dict:
    rng = np.random.default_rng([seed, index])
    n = int(rng.integers(min_objects, max_objects + 1))
    objects: list[dict] = []
    attempts = 0
    while len(objects) < n:
        attempts += 1
        if attempts > 5000:           # crowded: restart placement with the same count
            objects, attempts = [], 0
        size = str(rng.choice(ATTRIBUTES["size"]))
        x, y = (float(v) for v in rng.uniform(-3.0, 3.0, size=2))
        r = WORLD_RADIUS[size]
        ok = all(np.hypot(x - o["3d_coords"][0], y - o["3d_coords"][1]) > r + WORLD_RADIUS[o["size"]] + 0.1
                 and abs(x - o["3d_coords"][0]) > 0.25 and abs(y - o["3d_coords"][1]) > 0.25 for o in objects)
        if not ok:
            continue
        u, v, s = _project(x, y)
        pr = (34.0 if size == "large" else 17.0) * s
        shape = str(rng.choice(ATTRIBUTES["shape"]))
        top = v - 2 * pr - (0.5 * pr if shape == "cube" else 0.0)
        bbox = [max(0.0, u - pr), max(0.0, top), min(WIDTH - 1.0, u + pr), min(HEIGHT - 1.0, v + 0.2 * pr)]
        objects.append({
            "shape": shape, "color": str(rng.choice(ATTRIBUTES["color"])),
            "material": str(rng.choice(ATTRIBUTES["material"])), "size": size,
            "3d_coords": [round(x, 4), round(y, 4), r], "rotation": round(float(rng.uniform(0, 360)), 2),
            "pixel_coords": [int(round(u)), int(round(v - pr)), round(14.0 - 6.0 * (y + 3.0) / 6.0, 3)],
            "bbox": [round(b, 2) for b in bbox],
        })
    return {"split": split, "image_index": index, "image_filename": image_filename(split, index),
            "objects": objects, "relationships": relationships(objects)}


def relationships(objects: list[dict]) -> dict:
    """CLEVR convention: relationships[rel][i] lists the objects that are ``rel`` of object i."""
    xs = [o["3d_coords"][0] for o in objects]
    ys = [o["3d_coords"][1] for o in objects]
    n = len(objects)
    return {"left": [[j for j in range(n) if j != i and xs[j] < xs[i]] for i in range(n)],
            "right": [[j for j in range(n) if j != i and xs[j] > xs[i]] for i in range(n)],
            "front": [[j for j in range(n) if j != i and ys[j] > ys[i]] for i in range(n)],
            "behind": [[j for j in range(n) if j != i and ys[j] < ys[i]] for i in range(n)]}


def image_filename(split: str, index: int) -> str:
    return f"CLEVR_{split}_{index:06d}.png"

