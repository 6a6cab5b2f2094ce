"""Draws a synthetic CLEVR scene as a 480x320 image of simply shaded shapes."""
from __future__ import annotations

import numpy as np

from .attributes import RGB
from .scenes import HEIGHT, WIDTH, _project


def render(scene: dict) -> np.ndarray:
    """Draws the scene back to front as simple shaded shapes: uint8 [320, 480, 3]."""
    from PIL import Image, ImageDraw

    yy = np.linspace(0.0, 1.0, HEIGHT, dtype=np.float32)[:, None, None]
    bg = (150 + 40 * yy) * np.ones((1, WIDTH, 3), np.float32)
    img = Image.fromarray(bg.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    order = sorted(range(len(scene["objects"])), key=lambda i: scene["objects"][i]["3d_coords"][1])
    for i in order:
        o = scene["objects"][i]
        u, v, s = _project(o["3d_coords"][0], o["3d_coords"][1])
        r = (34.0 if o["size"] == "large" else 17.0) * s
        base = np.array(RGB[o["color"]], np.float32)
        shiny = o["material"] == "metal"

        def tone(k: float) -> tuple:
            return tuple(int(c) for c in np.clip(base * k, 0, 255))

        draw.ellipse([u - r * 1.1, v - 0.25 * r, u + r * 1.1, v + 0.25 * r], fill=(110, 110, 110))  # shadow
        if o["shape"] == "sphere":
            cx, cy = u, v - r
            for k in range(12, 0, -1):                      # radial shading toward the upper left
                f = k / 12
                off = (1 - f) * 0.35 * r
                draw.ellipse([cx - f * r - off, cy - f * r - off, cx + f * r - off, cy + f * r - off],
                             fill=tone(0.55 + 0.6 * (1 - f)))
        elif o["shape"] == "cube":
            d = 0.5 * r
            draw.rectangle([u - r, v - 2 * r, u + r, v], fill=tone(0.8))
            draw.polygon([(u - r, v - 2 * r), (u - r + d, v - 2 * r - d), (u + r + d, v - 2 * r - d),
                          (u + r, v - 2 * r)], fill=tone(1.15))
            draw.polygon([(u + r, v), (u + r, v - 2 * r), (u + r + d, v - 2 * r - d), (u + r + d, v - d)],
                         fill=tone(0.55))
        else:
            w = 0.9 * r
            draw.ellipse([u - w, v - 0.3 * r, u + w, v + 0.3 * r], fill=tone(0.6))
            draw.rectangle([u - w, v - 2 * r, u + w, v], fill=tone(0.8))
            draw.rectangle([u + 0.3 * w, v - 2 * r, u + w, v], fill=tone(0.6))
            draw.ellipse([u - w, v - 2 * r - 0.3 * r, u + w, v - 2 * r + 0.3 * r], fill=tone(1.1))
        if shiny:
            hx, hy = u - 0.35 * r, v - 1.45 * r
            draw.ellipse([hx - 0.18 * r, hy - 0.12 * r, hx + 0.18 * r, hy + 0.12 * r], fill=(245, 245, 245))
    return np.asarray(img, dtype=np.uint8).copy()

