"""Draws one CLEVRER frame from above: an RGB image and a mask of object ids (id + 1)."""
from __future__ import annotations

import numpy as np

from ...clevr_common.attributes import RGB
from .physics import VIEW_H, VIEW_W
from .videos import RADIUS, Video


def render_frame(video: Video, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Renders physics frame ``frame``: uint8 image [320, 480, 3] and mask [320, 480] (id + 1)."""
    yy, xx = np.mgrid[0:VIEW_H, 0:VIEW_W].astype(np.float32)
    img = np.empty((VIEW_H, VIEW_W, 3), dtype=np.float32)
    shade = 0.85 + 0.15 * (yy / VIEW_H)               # a lit floor, darker at the back
    img[...] = (np.array([170.0, 170.0, 165.0]) * shade[..., None])
    mask = np.zeros((VIEW_H, VIEW_W), dtype=np.uint8)
    order = np.argsort(video.positions[frame, :, 1])  # back to front
    for i in order:
        if not video.visible[frame, i]:
            continue
        x, y = video.positions[frame, i]
        obj = video.objects[i]
        r = RADIUS[obj["shape"]]
        x0, x1 = int(max(0, np.floor(x - r - 1))), int(min(VIEW_W, np.ceil(x + r + 1)))
        y0, y1 = int(max(0, np.floor(y - r - 1))), int(min(VIEW_H, np.ceil(y + r + 1)))
        if x0 >= x1 or y0 >= y1:
            continue
        dx, dy = xx[y0:y1, x0:x1] - x, yy[y0:y1, x0:x1] - y
        if obj["shape"] == "cube":
            inside = (np.abs(dx) <= 0.85 * r) & (np.abs(dy) <= 0.85 * r)
            light = 1.0 - 0.25 * (dx + dy) / (2 * r)
        else:
            d2 = dx * dx + dy * dy
            inside = d2 <= r * r
            if obj["shape"] == "sphere":
                light = 1.15 - 0.6 * np.sqrt(np.clip(((dx + 0.4 * r) ** 2 + (dy + 0.4 * r) ** 2), 0, None)) / (2 * r)
            else:  # cylinder, seen from above: a flat top with a darker rim
                light = np.where(d2 > (0.75 * r) ** 2, 0.7, 1.0)
        if obj["material"] == "metal":  # a specular highlight
            light = light + 0.6 * np.exp(-((dx + 0.3 * r) ** 2 + (dy + 0.3 * r) ** 2) / (0.08 * r * r))
        color = np.array(RGB[obj["color"]], dtype=np.float32)
        patch = img[y0:y1, x0:x1]
        patch[inside] = np.clip(color[None, :] * light[inside][:, None], 0, 255)
        mask[y0:y1, x0:x1][inside] = i + 1
    return img.astype(np.uint8), mask

