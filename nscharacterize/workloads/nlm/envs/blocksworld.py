"""Blocks world, 'final' task: rearrange the start world into the target world.

A world is a forest hanging off a ground object (index 0): every block sits on the ground or on one
other block. A block can move when nothing is on it; it can be put on the ground or on a block with
nothing on it. Both worlds are drawn by random tree growth, and the object indices are shuffled per
world (the ground stays at index 0) so a policy cannot rely on the indices.

The state handed to the policy is [2(n+1), 4]: for every object of the start world then of the
target world, (world id, object index, x, y), where x is the index of the stack's bottom block and
y the height. The episode ends when each block of the start world has its target coordinates, or
after 4n moves.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .base import Env, pair_mapping


class Block:
    __slots__ = ("index", "parent", "children")

    def __init__(self, index: int):
        self.index = index
        self.parent: Optional[Block] = None
        self.children: list[Block] = []

    @property
    def is_ground(self) -> bool:
        return self.parent is None

    @property
    def free_top(self) -> bool:
        return not self.children

    @property
    def moveable(self) -> bool:
        return not self.is_ground and self.free_top

    @property
    def placeable(self) -> bool:
        return self.is_ground or self.free_top

    def put_on(self, other: "Block") -> None:
        if self.parent is not None:
            self.parent.children.remove(self)
        self.parent = other
        other.children.append(self)


class BlocksWorld:
    """Blocks plus a display order: ``order[k]`` is the raw block shown at index k."""

    def __init__(self, blocks: list[Block], order: Optional[list[int]] = None):
        self.raw = blocks
        self.set_order(order)

    def set_order(self, order: Optional[list[int]]) -> None:
        size = len(self.raw)
        self.order = list(range(size)) if order is None else [int(o) for o in order]
        self.position = [0] * size  # raw index -> display index
        for k, raw in enumerate(self.order):
            self.position[raw] = k

    @property
    def size(self) -> int:
        return len(self.raw)

    def block(self, k: int) -> Block:
        return self.raw[self.order[k]]

    def can_move(self, x: int, y: int) -> bool:
        return self.block(x).moveable and self.block(y).placeable

    def move(self, x: int, y: int) -> None:
        if x != y and self.can_move(x, y):
            self.block(x).put_on(self.block(y))

    def coordinates(self, absolute: bool = True) -> np.ndarray:
        """[size, 2] (x, y) per displayed object; the ground is (0, 0).

        A stack's x is the display index of its bottom block (``absolute``) or the stack's rank on
        the ground; y counts the height from 1 for blocks on the ground.
        """
        coords: list = [None] * self.size
        ground = self.raw[0]
        coords[ground.index] = (0, 0)
        stack = []
        for rank, bottom in enumerate(ground.children):
            x = self.position[bottom.index] if absolute else rank
            coords[bottom.index] = (x, 1)
            stack.append(bottom)
        while stack:
            b = stack.pop()
            x, y = coords[b.index]
            for c in b.children:
                coords[c.index] = (x, y + 1)
                stack.append(c)
        return np.array([coords[raw] for raw in self.order])


def random_world(nr_blocks: int, rng: np.random.RandomState) -> BlocksWorld:
    """Random tree growth: each new block goes on a uniformly chosen placeable object."""
    blocks = [Block(0)]
    tops = [blocks[0]]
    for i in range(1, nr_blocks + 1):
        below = tops[rng.randint(len(tops))]
        b = Block(i)
        b.put_on(below)
        if not below.placeable:
            tops.remove(below)
        blocks.append(b)
        tops.append(b)
    return BlocksWorld(blocks)


def label(coords: np.ndarray, world_id: int) -> np.ndarray:
    """Prepends (world id, object index) columns: [m, 2] -> [m, 4] float."""
    m = coords.shape[0]
    return np.hstack([np.full((m, 1), float(world_id)), np.arange(m)[:, None], coords])


class BlocksWorldEnv(Env):
    def __init__(self, n: int, rng: np.random.RandomState, shuffle: bool = True, exclude_self: bool = True):
        super().__init__(rng)
        self.n = n
        self.objects = n + 1
        self.shuffle = shuffle
        self.step_limit = 4 * n
        self.mapping = pair_mapping(self.objects, exclude_self)
        self.start_world = self.target_world = None
        self.over = False
        self.last_valid = None

    def _shuffled_order(self) -> list[int]:
        rest = self.rng.permutation(self.objects - 1)
        return [0] + [int(r) + 1 for r in rest]  # the ground stays at index 0

    def _restart(self) -> None:
        self.start_world = random_world(self.n, self.rng)
        self.target_world = random_world(self.n, self.rng)
        if self.shuffle:
            self.start_world.set_order(self._shuffled_order())
            self.target_world.set_order(self._shuffled_order())
        self.start_state = label(self.start_world.coordinates(), 0)
        self.target_state = label(self.target_world.coordinates(), 1)
        self.over = False
        self.initial_result = self._result()

    def _result(self) -> tuple[float, bool]:
        a = sorted(map(tuple, label(self.start_world.coordinates(), 0)))
        b = sorted(map(tuple, label(self.target_world.coordinates(), 0)))
        return (1, True) if np.array_equal(np.array(a), np.array(b)) else (0, False)

    def _step(self, move) -> tuple[float, bool]:
        if self.over:
            return 0, True
        if self.initial_result[1]:
            self.over = True
            return self.initial_result
        x, y = move
        self.last_valid = self.start_world.can_move(x, y)
        self.rng.rand()  # the original draws the chance of an ineffective move (0 in this task)
        self.start_world.move(x, y)
        self.start_state = label(self.start_world.coordinates(), 0)
        reward, done = self._result()
        self.over = done
        return reward, done

    def observe(self) -> np.ndarray:
        return np.vstack([self.start_state, self.target_state])
