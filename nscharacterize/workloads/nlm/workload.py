"""The NLM workloads: greedy evaluation episodes of sort, shortest path and blocks world.

How an episode maps onto the pipeline
-------------------------------------
The original evaluation loop interleaves the two halves of the system at every step::

    env.restart()
    while not done:
        state = env.current_state                        # numpy, symbolic side
        policy = model(as_tensor(state))                 # NLM forward, neural side
        action = argmax(policy)
        reward, done = env.action(action)                # numpy / Python, symbolic side

A workload is a pipeline that runs each component once per sample under that component's own
profiler, so the two halves cannot alternate inside one sample. The loop is cut where nothing is
lost: the policy is greedy (argmax) and its weights are fixed, so an episode's action sequence is a
deterministic function of the episode seed. ``make_samples`` plays each episode once, unprofiled,
with the real interleaved loop and keeps the seed and the chosen actions. One sample = one episode;
its components are

1. ``env`` (symbolic, cProfile): restarts the environment from the episode seed (random
   permutation / graph generation with Floyd-Warshall / two random block worlds) and steps it with
   the episode's actions, collecting the numpy observation the policy sees before each step. This
   is exactly the environment work of the episode, without any NLM work.
2. ``policy`` (neural, torch): for every observation, numpy -> tensor (-> device), the NLM
   forward, softmax, and the greedy argmax on the host, exactly the model work of the episode,
   without any environment work. It returns the actions, which equal the recorded ones.

Both are pure functions of their input (the env rebuilds its state from the seed; the policy only
reads the observations), so the runner may repeat them on the same sample.

Episode length
--------------
With random weights the policy rarely solves a task, so an episode would run to the step limit
(sort 2n, path ``dist`` = 4, blocks world 4n). Trained policies stop earlier, so by default
(``episode_length: trained``) each episode is cut at the length a trained policy takes; the per-step
work (one observation, one NLM forward) is unchanged, only the number of steps follows training:

- blocks world: the lengths the authors report for their released model (README of
  google/neural-logic-machines: mean 12.5 moves at n = 10 and 85.8 at n = 50, success 100%). Between
  and beyond those sizes the moves per block are interpolated linearly in n (1.25 at 10, 1.716 at 50;
  n = 5 gives 5.96, n = 20 27.3), and episodes alternate between the two integers around the mean
  so that their average is the mean.
- sort: the authors report no lengths. A policy that always succeeds (as the trained one does)
  needs at least the episode's minimum number of swaps (n minus the permutation's cycles), which
  the environment computes; that minimum is used.
- path: the authors report no lengths; a successful episode takes ``dist`` steps, which is also
  the step limit, so both settings run ``dist`` steps.

``episode_length: to_limit`` keeps the untrained behaviour: every unsolved episode runs to the
task's step limit, the work of the paper's evaluation for an episode it fails.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Optional

import math

import numpy as np
import torch
from pydantic import Field

from ..base import Component, Workload
from ..registry import Params, WorkloadSpec
from .envs import BlocksWorldEnv, Env, PathEnv, SortEnv
from .models import POLICIES

Task = Literal["sort", "path", "blocksworld"]
EpisodeLength = Literal["trained", "to_limit"]

# Mean episode lengths of the authors' trained blocks-world model (their README's test output):
# blocks -> moves.
BLOCKSWORLD_REPORTED_LENGTH = {10: 12.5, 50: 85.8}


# ---------------------------------------------------------------------------------------------
# parameters


def _attributes():
    return Field(8, ge=1, description="output predicates per arity group per layer (nlm_attributes)")


def _hidden():
    return Field([], description="hidden widths of each group's MLP ([] = one Linear + Sigmoid, as in every "
                                 "shipped NLM model)")


def _episode_length():
    return Field("trained", description="'trained': cut each episode at the length a trained policy takes "
                                        "(blocks world: the authors' reported means; sort: the episode's "
                                        "minimum swaps; path: dist); 'to_limit': run unsolved episodes to the "
                                        "task's step limit")


def _max_episode_steps():
    return Field(None, ge=1, description="cut episodes shorter than the task's own step limit (quick runs; "
                                         "None keeps the task's)")


class SortParams(Params):
    n: int = Field(10, ge=2, description="numbers to sort (paper test sizes: 10, 20, 30, 40, 50)")
    depth: int = Field(3, ge=1, description="NLM layers")
    breadth: int = Field(2, ge=2, description="highest predicate arity")
    attributes: int = _attributes()
    hidden: list[int] = _hidden()
    max_episode_steps: Optional[int] = _max_episode_steps()
    episode_length: EpisodeLength = _episode_length()


class PathParams(Params):
    n: int = Field(10, ge=3, description="graph nodes (paper test sizes: 10, 20, 30, 40, 50)")
    depth: int = Field(5, ge=1, description="NLM layers")
    breadth: int = Field(3, ge=2, description="highest predicate arity (3: ternary tensors grow as n^3)")
    attributes: int = _attributes()
    hidden: list[int] = _hidden()
    max_episode_steps: Optional[int] = _max_episode_steps()
    episode_length: EpisodeLength = _episode_length()
    dist: int = Field(4, ge=1, description="hops between start and goal, also the step limit (test setting: 4)")
    p: float = Field(0.3, gt=0, le=1, description="graph density: DNC out-degree up to int(n p), or the "
                                                  "edge probability for gen_method 'edge'")
    gen_method: Literal["dnc", "edge"] = Field("dnc", description="graph generator: 'dnc' (k nearest points) "
                                                                  "or 'edge' (Erdos-Renyi)")
    directed: bool = Field(False, description="directed graphs")


class BlocksWorldParams(Params):
    n: int = Field(10, ge=2, description="blocks per world (paper test sizes: 10, 20, 30, 40, 50)")
    depth: int = Field(7, ge=1, description="NLM layers")
    breadth: int = Field(2, ge=2, description="highest predicate arity")
    attributes: int = _attributes()
    hidden: list[int] = _hidden()
    max_episode_steps: Optional[int] = _max_episode_steps()
    episode_length: EpisodeLength = _episode_length()


# ---------------------------------------------------------------------------------------------
# episodes


@dataclass(frozen=True)
class Episode:
    """One recorded greedy episode: enough to replay it exactly."""

    task: str
    n: int
    index: int
    seed: int
    actions: tuple[int, ...]
    solved: bool


@dataclass
class Trace:
    """What the env component hands to the policy: one observation per step of the episode."""

    task: str
    observations: list
    relations: Optional[np.ndarray] = None   # path: the adjacency relation, fixed for the episode
    rewards: list = field(default_factory=list)
    solved: bool = False


def episode_rng(seed: int, task: str, n: int, index: int) -> np.random.RandomState:
    """An independent, reproducible random stream per (seed, task, size, episode)."""
    task_id = {"sort": 1, "path": 2, "blocksworld": 3}[task]
    entropy = np.random.SeedSequence([seed, task_id, n, index])
    return np.random.RandomState(np.random.MT19937(entropy))


def make_env(task: str, p: Params, rng: np.random.RandomState) -> Env:
    if task == "sort":
        env: Env = SortEnv(p.n, rng)
    elif task == "path":
        env = PathEnv(p.n, rng, dist_range=(p.dist, p.dist), pmin=p.p, directed=p.directed,
                      gen_method=p.gen_method)
    else:
        env = BlocksWorldEnv(p.n, rng)
    if p.max_episode_steps is not None:
        env.step_limit = min(env.step_limit or p.max_episode_steps, p.max_episode_steps)
    return env


def blocksworld_mean_length(n: int) -> float:
    """Mean moves of a trained blocks-world policy with ``n`` blocks: the reported means, with the
    moves per block interpolated (and extrapolated) linearly in n between the reported sizes."""
    (n0, l0), (n1, l1) = sorted(BLOCKSWORLD_REPORTED_LENGTH.items())
    per_block = l0 / n0 + (n - n0) * (l1 / n1 - l0 / n0) / (n1 - n0)
    return min(max(1.0, n * per_block), 4.0 * n)


def trained_length(task: str, p: Params, index: int, env: Env) -> int:
    """Steps a trained policy takes in episode ``index`` (``env`` freshly restarted)."""
    if task == "blocksworld":
        mean = blocksworld_mean_length(p.n)          # alternate floor/ceil: the running mean is the mean
        return max(1, math.floor((index + 1) * mean) - math.floor(index * mean))
    if task == "sort":
        return max(1, int(env.optimal))
    return p.dist


def step_limit(task: str, p: Params) -> int:
    own = {"sort": 2 * p.n, "path": getattr(p, "dist", 0), "blocksworld": 4 * p.n}[task]
    return min(own, p.max_episode_steps) if p.max_episode_steps is not None else own


class NLMEpisodes:
    """The env and policy halves of one task's greedy evaluation, and the recorded episodes."""

    def __init__(self, task: str, p: Params, seed: int):
        self.task, self.p, self.seed = task, p, seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = POLICIES[task](p.depth, p.breadth, p.attributes, tuple(p.hidden)).eval()
        self.device = "cpu"
        self.forward_calls = 0  # NLM forwards run so far (tests count them per episode)
        self._episodes: list[Episode] = []

    # -- neural side ----------------------------------------------------------------------------
    def act(self, observation: np.ndarray, relations: Optional[np.ndarray] = None) -> int:
        """One policy step: numpy -> tensor (-> device) -> NLM -> softmax -> greedy argmax."""
        self.forward_calls += 1
        entropy_beta = torch.from_numpy(np.array(0.0)).float().to(self.device)  # fed each step, unused at test
        del entropy_beta
        states = torch.from_numpy(np.array([observation])).to(self.device)
        with torch.no_grad():
            if self.task == "path":
                rel = torch.from_numpy(np.array([relations])).to(self.device)
                policy, _logits = self.model(states, rel)
            else:
                policy, _logits = self.model(states)
        probs = policy[0].detach().cpu().numpy()
        return int(probs.argmax())

    def policy(self, trace: Trace) -> dict:
        """Component ``policy``: every NLM step of the episode."""
        actions = [self.act(obs, trace.relations) for obs in trace.observations]
        return {"actions": actions, "steps": len(actions), "solved": trace.solved}

    # -- symbolic side --------------------------------------------------------------------------
    def new_env(self, episode_index: int) -> Env:
        env = make_env(self.task, self.p, episode_rng(self.seed, self.task, self.p.n, episode_index))
        env.restart()
        if self.p.episode_length == "trained":
            env.step_limit = min(env.step_limit or math.inf, trained_length(self.task, self.p, episode_index, env))
        return env

    def environment(self, episode: Episode) -> Trace:
        """Component ``env``: restart from the seed and step through the episode's actions."""
        env = self.new_env(episode.index)
        trace = Trace(self.task, [], relations=env.relations() if self.task == "path" else None)
        done = False
        for action in episode.actions:
            assert not done, "recorded episode continues past its end"
            trace.observations.append(env.observe())
            reward, done = env.action(action)
            trace.rewards.append(reward)
        assert done, "recorded episode stops before its end"
        trace.solved = bool(trace.rewards and trace.rewards[-1] > 0.99)
        return trace

    # -- recording ------------------------------------------------------------------------------
    def play(self, index: int) -> Episode:
        """Plays episode ``index`` with the real interleaved loop and records its actions."""
        env = self.new_env(index)
        relations = env.relations() if self.task == "path" else None
        actions, done, reward = [], False, 0
        while not done:
            a = self.act(env.observe(), relations)
            reward, done = env.action(a)
            actions.append(a)
        return Episode(self.task, self.p.n, index, self.seed, tuple(actions), bool(reward > 0.99))

    def episodes(self, count: int) -> list[Episode]:
        while len(self._episodes) < count:
            self._episodes.append(self.play(len(self._episodes)))
        return list(self._episodes[:count])

    def to_device(self, device: str) -> None:
        if device != self.device:
            self._episodes.clear()  # argmax ties could break differently on another device
        self.device = device
        self.model.to(device)


# ---------------------------------------------------------------------------------------------
# workloads


def build_nlm(task: str, p: Params, seed: int) -> Workload:
    runner = NLMEpisodes(task, p, seed)
    model = runner.model
    name, floats = model.largest_tensor(p.n)
    objects = 2 * (p.n + 1) if task == "blocksworld" else p.n
    info = {
        "task": task,
        "n": p.n,
        "objects": objects,
        "depth": p.depth,
        "breadth": p.breadth,
        "step_limit": step_limit(task, p),
        "episode_length": p.episode_length,
        "parameters": sum(t.numel() for t in model.parameters()),
        "mlp_input_widths": model.nlm.mlp_input_widths(),
        "readout_width": model.readout_dim,
        "largest_tensor": name,
        "largest_tensor_floats": floats,
        "largest_tensor_bytes": 4 * floats,
        "sample": "one greedy evaluation episode (env replays it; policy runs its NLM forwards)",
    }
    if task == "blocksworld":
        info["trained_mean_length"] = round(blocksworld_mean_length(p.n), 3)
    workload = Workload(
        name=f"nlm-{task}",
        components=[Component("env", runner.environment, kind="symbolic", profiler="cprofile"),
                    Component("policy", runner.policy, kind="neural", profiler="torch",
                              modules=(runner.model,))],
        make_samples=runner.episodes, to_device=runner.to_device, info=info)
    workload.episodes = runner  # type: ignore[attr-defined]  # for tests and users
    return workload


def _factory(task: str) -> Callable[..., Workload]:
    def factory(p: Params, seed: int = 0) -> Workload:
        return build_nlm(task, p, seed)
    factory.__name__ = f"build_nlm_{task}"
    return factory


SORT = WorkloadSpec("nlm-sort", "Neural Logic Machine sorting by swaps (depth 3, breadth 2; episodes of the minimum swaps, at most 2n)",
                    SortParams, _factory("sort"), smoke={"n": 4})
PATH = WorkloadSpec("nlm-path", "Neural Logic Machine shortest path on random graphs (depth 5, breadth 3: "
                    "n^3 ternary tensors; 4-step episodes)", PathParams, _factory("path"), smoke={"n": 6})
BLOCKSWORLD = WorkloadSpec("nlm-blocksworld", "Neural Logic Machine blocks world (depth 7, breadth 2 over "
                           "2(n+1) objects; episodes of the trained model's reported length, at most 4n moves)", BlocksWorldParams, _factory("blocksworld"),
                           smoke={"n": 3})
