"""Random graphs and the shortest-path task (the NLM 'path' task).

Graphs come from the DNC-style generator by default: n points uniform in the unit square, each
node picks an out-degree k uniform in [1, max(1, int(n p))] and links to its k nearest points,
then edges are symmetrised (undirected). All-pairs distances use Floyd-Warshall written as plain
Python loops, as the original does, so graph preparation costs O(n^3) interpreter steps.

An episode picks a start and a goal at exactly ``dist`` hops (4 in the test setting), regenerating
the graph when no such pair exists. The agent names a node each step and moves there if an edge
exists; the episode ends on reaching the goal or after ``dist`` steps.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .base import Env


class Graph:
    """A graph stored as a 0/1 adjacency matrix (int32)."""

    def __init__(self, edges: np.ndarray, positions: Optional[np.ndarray] = None):
        edges = edges.astype(np.int32)
        assert edges.min() >= 0 and edges.max() <= 1
        self.n = edges.shape[0]
        self.edges = edges
        self.positions = positions
        self._dist: Optional[np.ndarray] = None

    def has_edge(self, a: int, b: int) -> bool:
        return self.edges[a, b] == 1

    def shortest(self) -> np.ndarray:
        """Hop distances between all pairs (n + 1 where unreachable), Floyd-Warshall in Python."""
        if self._dist is not None:
            return self._dist
        n = self.n
        far = n + 1
        d = np.full((n, n), far, dtype=np.int32)
        d[self.edges == 1] = 1
        np.fill_diagonal(d, 0)
        for k in range(n):
            for i in range(n):
                for j in range(n):
                    if i != j:
                        via = d[i, k] + d[k, j]
                        if via < d[i, j]:
                            d[i, j] = via
        self._dist = d
        return d


def _degree_range(n: int, p) -> tuple[int, int]:
    if isinstance(p, tuple):
        lo, hi = p
    else:
        lo = 1
        hi = n // 3 if p is None else (p if isinstance(p, int) else int(n * p))
        hi = max(hi, 1)
    return max(lo, 1), min(hi, n - 1)


def random_graph_dnc(n: int, p, rng: np.random.RandomState, directed: bool = False) -> Graph:
    """DNC-style graph: link each node to its k nearest neighbours in the unit square."""
    edges = np.zeros((n, n), dtype=np.float64)
    points = rng.rand(n, 2)
    lo, hi = _degree_range(n, p)
    for i in range(n):
        k = rng.randint(hi - lo + 1) + lo
        by_distance = sorted((float(((points[i] - points[j]) ** 2).mean()), j) for j in range(n) if j != i)
        for _, j in by_distance[:k]:
            edges[i, j] = 1
    if not directed:
        edges = np.maximum(edges, edges.T)
    return Graph(edges, points)


def random_graph_er(n: int, p: float, rng: np.random.RandomState, directed: bool = False) -> Graph:
    """Erdos-Renyi graph: each ordered pair is an edge with probability p."""
    edges = (rng.rand(n, n) < p).astype(np.float64)
    np.fill_diagonal(edges, 0)
    if not directed:
        edges = np.maximum(edges, edges.T)
    return Graph(edges)


GENERATORS = {"dnc": random_graph_dnc, "edge": random_graph_er}


class PathEnv(Env):
    def __init__(self, n: int, rng: np.random.RandomState, dist_range=(4, 4), pmin: float = 0.3,
                 pmax: Optional[float] = None, directed: bool = False, gen_method: str = "dnc"):
        super().__init__(rng)
        if gen_method not in GENERATORS:
            raise ValueError(f"unknown graph generator {gen_method!r}")
        self.n = n
        self.dist_range = dist_range
        self.pmin, self.pmax = pmin, (pmin if pmax is None else pmax)
        self.directed = directed
        self.gen_method = gen_method
        self.graph: Optional[Graph] = None
        self.dist = None
        self.start = self.goal = self.current = None
        self.regenerations = 0

    def _new_graph(self) -> None:
        p = self.pmin + self.rng.rand() * (self.pmax - self.pmin)
        self.graph = GENERATORS[self.gen_method](self.n, p, self.rng, self.directed)

    def _restart(self) -> None:
        self._new_graph()
        lo, hi = self.dist_range
        hi = min(hi, self.n - 1)
        self.dist = self.rng.randint(hi - lo + 1) + lo
        self.regenerations = 0
        while True:
            starts, goals = np.where(self.graph.shortest() == self.dist)
            if len(starts):
                pick = self.rng.randint(len(starts))
                self.start, self.goal = int(starts[pick]), int(goals[pick])
                break
            self.regenerations += 1
            self._new_graph()
        self.current = self.start
        self.hops = 0

    def _step(self, target) -> tuple[float, bool]:
        if self.current == self.goal:
            return 1, True
        if self.graph.has_edge(self.current, target):
            self.current = int(target)
        if self.current == self.goal:
            return 1, True
        self.hops += 1
        if self.hops >= self.dist:
            return 0, True
        return 0, False

    def relations(self) -> np.ndarray:
        """[n, n, 2]: the adjacency matrix and its transpose (fixed for the episode)."""
        e = self.graph.edges.copy()
        return np.stack([e, e.T], axis=-1)

    def observe(self) -> np.ndarray:
        """[n, 2]: one-hot of the current node and of the goal."""
        state = np.zeros((self.n, 2))
        state[self.current, 0] = 1
        state[self.goal, 1] = 1
        return state
