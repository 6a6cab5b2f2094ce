"""The attribute values of one RAVEN-style matrix, drawn so that every row obeys its rules.

Facts from RAVEN (Zhang et al., CVPR 2019) as the NVSA and PrAE releases use it: attributes
type (5 shapes: triangle, square, pentagon, hexagon, circle), size (6 scales) and colour (10 grey
levels); rules constant, progression (+-1, +-2), arithmetic (+, -) and distribute three, one rule
per attribute applied row-wise (no arithmetic on type, as in RAVEN); 8 context panels and 8 candidates. ``values`` scales the number of
values of every attribute (the task size that PrAE's enumeration and NVSA's codebooks grow with).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ATTRIBUTES = ("type", "size", "color")
BASE_SIZES = {"type": 5, "size": 6, "color": 10}
RULES = ("constant", "progression", "arithmetic", "distribute_three")


def attribute_sizes(values: int | None = None) -> dict[str, int]:
    """Values per attribute: RAVEN's own, or ``values`` for every attribute (a sweep's task size)."""
    return dict(BASE_SIZES) if values is None else {a: values for a in ATTRIBUTES}


@dataclass
class Matrix:
    """One problem: ``grid[row, col, attribute]`` value indices (row 2, col 2 is the answer),
    the eight candidates ``candidates[i, attribute]``, the right candidate's index and the rules."""

    grid: np.ndarray          # [3, 3, n_attributes] int
    candidates: np.ndarray    # [8, n_attributes] int
    answer: int
    rules: dict[str, str]
    sizes: dict[str, int]


def _row(rule: str, n: int, rng: np.random.Generator, params: dict) -> list[int]:
    """Three values of one row under ``rule`` with the row-independent ``params`` of the matrix."""
    if rule == "constant":
        v = int(rng.integers(n))
        return [v, v, v]
    if rule == "progression":
        step = params["step"]
        lo, hi = max(0, -2 * step), n - 1 - max(0, 2 * step)
        v = int(rng.integers(lo, hi + 1))
        return [v, v + step, v + 2 * step]
    if rule == "arithmetic":
        # RAVEN's arithmetic on a value index: third = first + second (plus) or first - second (minus),
        # with indices counted from 1 as RAVEN counts sizes and colours.
        if params["plus"]:
            a = int(rng.integers(1, n - 1)) if n > 2 else 1
            b = int(rng.integers(1, max(2, n - a)))
            return [a - 1, b - 1, a + b - 1] if a + b - 1 < n else [0, 0, 0]
        a = int(rng.integers(2, n + 1)) if n > 2 else 2
        b = int(rng.integers(1, a))
        return [a - 1, b - 1, a - b - 1]
    perm = params["perm"]
    shift = params["shift"]
    values = params["values"]
    return [values[perm[(i + shift) % 3]] for i in range(3)]


def make_matrix(seed: int, index: int, values: int | None = None) -> Matrix:
    """The ``index``-th matrix of a data set; the same (seed, index, values) always gives the same one."""
    rng = np.random.default_rng([seed, index, values or 0])
    sizes = attribute_sizes(values)
    grid = np.zeros((3, 3, len(ATTRIBUTES)), dtype=np.int64)
    rules = {}
    for a, name in enumerate(ATTRIBUTES):
        n = sizes[name]
        choices = [r for r in RULES if not (r == "progression" and n < 5) and not (r == "arithmetic" and n < 3)
                   and not (r == "distribute_three" and n < 3) and not (r == "arithmetic" and name == "type")]
        rule = str(rng.choice(choices))
        rules[name] = rule
        params = {"step": int(rng.choice([-2, -1, 1, 2])) if n >= 5 else 1, "plus": bool(rng.integers(2)),
                  "values": [int(v) for v in rng.choice(n, size=3, replace=False)] if n >= 3 else [0, 0, 0],
                  "perm": [0, 1, 2]}
        for r in range(3):
            params["shift"] = r
            grid[r, :, a] = _row(rule, n, rng, params)
    answer_row = grid[2, 2].copy()
    candidates = np.repeat(answer_row[None], 8, axis=0)
    answer = int(rng.integers(8))
    for i in range(8):
        if i == answer:
            continue
        while True:  # each distractor changes one attribute, and no two candidates are the same
            a = int(rng.integers(len(ATTRIBUTES)))
            cand = answer_row.copy()
            cand[a] = int(rng.integers(sizes[ATTRIBUTES[a]]))
            if not any((cand == c).all() for c in candidates[:i]) and not (cand == answer_row).all():
                candidates[i] = cand
                break
    return Matrix(grid=grid, candidates=candidates, answer=answer, rules=rules, sizes=sizes)
