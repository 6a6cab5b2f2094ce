"""Samples of the RAVEN-style workloads: the i-th matrix and its 16 panels as a tensor."""
from __future__ import annotations

import torch

from .matrices import make_matrix
from .panels import render_matrix


def raven_samples(seed: int, n: int, values: int | None, image_size: int) -> list[dict]:
    """``n`` samples ``{"panels": [16, 1, px, px] float tensor, "matrix": Matrix}``, the same for the
    same arguments (the panels of NVSA and PrAE alike)."""
    out = []
    for i in range(n):
        m = make_matrix(seed, i, values)
        out.append({"panels": torch.from_numpy(render_matrix(m, image_size))[:, None], "matrix": m})
    return out
