"""The common environment interface and the step-limit rule."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np


def pair_mapping(m: int, exclude_self: bool = True) -> list[tuple[int, int]]:
    """Action index -> (i, j) over an m x m grid in row-major order, optionally without i == j."""
    return [(i, j) for i in range(m) for j in range(m) if not (exclude_self and i == j)]


class Env:
    """An episodic environment with an optional step limit.

    Subclasses implement ``_restart``, ``_step(action) -> (reward, done)`` and ``observe``. The
    limit applies on top of the task's own end condition: after ``step_limit`` actions the episode
    is over whatever the task says (as the original's length-limiting wrapper does).
    """

    step_limit: Optional[int] = None
    mapping: Optional[list] = None

    def __init__(self, rng: np.random.RandomState):
        self.rng = rng
        self.steps = 0

    def restart(self) -> None:
        self.steps = 0
        self._restart()

    def action(self, index: int) -> tuple[float, bool]:
        move = self.mapping[index] if self.mapping is not None else index
        reward, done = self._step(move)
        self.steps += 1
        if self.step_limit is not None and self.steps >= self.step_limit:
            done = True
        return reward, done

    def observe(self) -> Any:
        raise NotImplementedError

    def _restart(self) -> None:
        raise NotImplementedError

    def _step(self, move: Any) -> tuple[float, bool]:
        raise NotImplementedError
