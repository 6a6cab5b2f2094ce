"""NLM environments: sort, shortest path on random graphs, blocks world."""
from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from nscharacterize.workloads.nlm.envs import (BlocksWorldEnv, PathEnv, SortEnv, pair_mapping, random_graph_dnc,
                                               random_world)
from nscharacterize.workloads.nlm.envs.sort import swaps_to_sort


def rng(seed=0):
    return np.random.RandomState(seed)


# -- sort -------------------------------------------------------------------------------------

def test_sort_state_relations():
    env = SortEnv(4, rng())
    env.restart()
    s = env.observe()
    a = env.array
    assert s.shape == (4, 4, 6)
    for i in range(4):
        for j in range(4):
            assert s[i, j, :3].tolist() == [a[j] < a[i], a[j] == a[i], a[j] > a[i]]
            assert s[i, j, 3:].tolist() == [j < i, j == i, j > i]


@pytest.mark.parametrize("seed", range(5))
def test_sort_oracle_swaps_solve(seed):
    n = 7
    env = SortEnv(n, rng(seed))
    env.restart()
    assert env.optimal == swaps_to_sort(list(env.array))
    steps, reward, done = 0, 0, False
    while not done:
        a = list(env.array)
        i = next(k for k in range(n) if a[k] != k)  # put value i into position i
        j = a.index(i)
        reward, done = env.action(env.mapping.index((i, j)))
        steps += 1
    assert reward == 1 and list(env.array) == list(range(n))
    assert steps == env.optimal <= 2 * n


def test_sort_step_limit_is_2n():
    n = 5
    env = SortEnv(n, rng(3))
    env.restart()
    steps, done = 0, False
    while not done:
        _, done = env.action(env.mapping.index((0, 1)))  # swapping back and forth never sorts
        steps += 1
    assert steps == 2 * n
    assert len(env.mapping) == n * (n - 1)


# -- path -------------------------------------------------------------------------------------

def bfs(edges, src):
    n = len(edges)
    d = [n + 1] * n
    d[src] = 0
    q = deque([src])
    while q:
        u = q.popleft()
        for v in range(n):
            if edges[u, v] and d[v] > d[u] + 1:
                d[v] = d[u] + 1
                q.append(v)
    return d


@pytest.mark.parametrize("seed", range(3))
def test_dnc_graph_and_floyd_distances(seed):
    n, p = 20, 0.3
    g = random_graph_dnc(n, p, rng(seed))
    e = g.edges
    assert e.dtype == np.int32 and (e == e.T).all() and (np.diag(e) == 0).all()
    # every node links to between 1 and int(n p) nearest points before symmetrisation
    assert (e.sum(1) >= 1).all()
    dist = g.shortest()
    for s in range(n):
        assert dist[s].tolist() == bfs(e, s)


@pytest.mark.parametrize("seed", range(3))
def test_path_episode_start_goal_distance_and_shortest_walk(seed):
    env = PathEnv(12, rng(seed), dist_range=(4, 4), pmin=0.3)
    env.restart()
    assert env.dist == 4
    dist = env.graph.shortest()
    assert dist[env.start, env.goal] == 4
    obs = env.observe()
    assert obs.shape == (12, 2) and obs[env.start, 0] == 1 and obs[env.goal, 1] == 1 and obs.sum() == 2
    rel = env.relations()
    assert rel.shape == (12, 12, 2) and (rel[..., 0] == env.graph.edges).all()
    # walk a shortest path: reaches the goal on the 4th step
    to_goal = bfs(env.graph.edges, env.goal)
    steps, reward, done = 0, 0, False
    while not done:
        cur = env.current
        nxt = next(v for v in range(12) if env.graph.edges[cur, v] and to_goal[v] == to_goal[cur] - 1)
        reward, done = env.action(nxt)
        steps += 1
    assert reward == 1 and steps == 4


def test_path_ends_after_dist_steps_without_goal():
    env = PathEnv(10, rng(1), dist_range=(4, 4), pmin=0.3)
    env.restart()
    steps, done = 0, False
    while not done:
        reward, done = env.action(env.current)  # no self loops: never moves
        steps += 1
    assert steps == 4 and reward == 0


# -- blocks world -----------------------------------------------------------------------------

def test_blocksworld_moves_and_coordinates():
    w = random_world(4, rng(0))
    w.set_order([0, 1, 2, 3, 4])
    coords = w.coordinates()
    assert coords[0].tolist() == [0, 0]
    for k in range(1, 5):
        b = w.block(k)
        x, y = coords[k]
        depth, bottom = 1, b
        while not bottom.parent.is_ground:
            bottom, depth = bottom.parent, depth + 1
        assert (x, y) == (w.position[bottom.index], depth)
    # a covered block cannot move; the ground never moves; a free block goes on the ground
    covered = next((k for k in range(1, 5) if w.block(k).children), None)
    if covered is not None:
        before = w.coordinates().copy()
        w.move(covered, 0)
        assert (w.coordinates() == before).all()
    assert not w.can_move(0, 1)
    top = next(k for k in range(1, 5) if not w.block(k).children)
    w.move(top, 0)
    assert w.coordinates()[top].tolist() == [top, 1]


def test_blocksworld_state_layout_and_limit():
    n = 4
    env = BlocksWorldEnv(n, rng(2))
    env.restart()
    s = env.observe()
    assert s.shape == (2 * (n + 1), 4)
    assert s[: n + 1, 0].tolist() == [0] * (n + 1) and s[n + 1:, 0].tolist() == [1] * (n + 1)
    assert s[: n + 1, 1].tolist() == list(range(n + 1))
    assert len(env.mapping) == (n + 1) * n
    steps, done = 0, False
    while not done:
        _, done = env.action(env.mapping.index((0, 1)))  # the ground cannot move: no progress
        steps += 1
    assert steps == 4 * n or env.initial_result[1]


def oracle_moves(env):
    """Unstack everything onto the ground, then build the target stacks bottom up."""
    start, target = env.start_world, env.target_world
    moves = []
    while True:
        k = next((k for k in range(1, start.size) if start.block(k).moveable
                  and not start.block(k).parent.is_ground), None)
        if k is None:
            break
        moves.append((k, 0))
        start.move(k, 0)
    height = {k: int(target.coordinates()[k][1]) for k in range(1, target.size)}
    for k in sorted(height, key=height.get):
        parent = target.block(k).parent
        if not parent.is_ground:
            moves.append((k, target.position[parent.index]))
    return moves


@pytest.mark.parametrize("seed", range(4))
def test_blocksworld_oracle_solves(seed):
    n = 5
    planner = BlocksWorldEnv(n, rng(seed))
    planner.restart()
    moves = oracle_moves(planner)
    env = BlocksWorldEnv(n, rng(seed))  # same seed: same worlds
    env.restart()
    assert len(moves) <= 2 * n
    reward, done = 0, False
    for x, y in moves:
        reward, done = env.action(env.mapping.index((x, y)))
        if done:
            break
    if not moves:  # already solved at restart: the first action reports success
        reward, done = env.action(0)
    assert done and reward == 1


def test_pair_mapping():
    assert pair_mapping(3) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    assert len(pair_mapping(3, exclude_self=False)) == 9
