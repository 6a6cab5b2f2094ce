"""Sorting a random permutation by swaps (the NLM 'sort' task).

The state is a binary relation tensor [n, n, 6]: for each pair (i, j) the comparisons
value[j] < value[i], value[j] == value[i], value[j] > value[i], and the same three for the positions
j and i. An action swaps two positions; the episode ends when the array is sorted or after 2n swaps.
"""
from __future__ import annotations

import numpy as np

from .base import Env, pair_mapping


def compare3(v: np.ndarray) -> np.ndarray:
    """[n] -> [n, n, 3] float: (v[j] < v[i], v[j] == v[i], v[j] > v[i]) at [i, j]."""
    col, row = v[None, :], v[:, None]  # col[i, j] = v[j], row[i, j] = v[i]
    return np.stack([col < row, col == row, col > row], axis=-1).astype(np.float64)


def swaps_to_sort(perm) -> int:
    """Fewest swaps that sort a permutation: n minus its number of cycles."""
    seen = [False] * len(perm)
    cycles = 0
    for start in range(len(perm)):
        if seen[start]:
            continue
        cycles += 1
        k = start
        while not seen[k]:
            seen[k] = True
            k = perm[k]
    return len(perm) - cycles


class SortEnv(Env):
    def __init__(self, n: int, rng: np.random.RandomState, exclude_self: bool = True):
        super().__init__(rng)
        self.n = n
        self.step_limit = 2 * n
        self.mapping = pair_mapping(n, exclude_self)
        self.array = None
        self.state = None
        self.optimal = None

    def relations(self) -> np.ndarray:
        positions = np.arange(self.n)
        return np.concatenate([compare3(self.array), compare3(positions)], axis=-1)

    def _restart(self) -> None:
        self.array = self.rng.permutation(self.n)
        self.state = self.relations()
        self.optimal = swaps_to_sort(self.array)

    def _step(self, move) -> tuple[float, bool]:
        i, j = move
        a = self.array
        a[i], a[j] = a[j], a[i]
        self.state = self.relations()
        for k in range(self.n):
            if a[k] != k:
                return 0, False
        return 1, True

    def observe(self) -> np.ndarray:
        return self.state
