"""NLM workloads: episode control flow, component split, re-runnability, determinism, info."""
from __future__ import annotations

import pydantic
import pytest
import torch

from nscharacterize.workloads import registry
from nscharacterize.workloads.base import WorkloadError
from nscharacterize.workloads.nlm import BLOCKSWORLD, PATH, SORT, Episode

SPECS = [SORT, PATH, BLOCKSWORLD]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_registered_and_split_into_env_and_policy(spec):
    assert registry.get_spec(spec.name) is spec
    w = spec.build(spec.smoke, seed=0)
    assert [(c.name, c.kind, c.profiler) for c in w.components] == [
        ("env", "symbolic", "cprofile"), ("policy", "neural", "torch")]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_episode_steps_and_forward_calls(spec):
    w = spec.build({**spec.smoke, "episode_length": "to_limit"}, seed=0)
    runner = w.episodes
    episodes = w.make_samples(2)
    limit = w.info["step_limit"]
    for ep in episodes:
        assert isinstance(ep, Episode)
        assert 1 <= len(ep.actions) <= limit
        assert ep.solved or len(ep.actions) == limit  # unsolved episodes run to the step limit
    calls = runner.forward_calls
    trace = w.components[0].fn(episodes[0])
    assert runner.forward_calls == calls  # the env component runs no NLM forward
    assert len(trace.observations) == len(episodes[0].actions)
    out = w.components[1].fn(trace)
    assert runner.forward_calls == calls + len(episodes[0].actions)  # one forward per step
    assert out["actions"] == list(episodes[0].actions)  # the replay is the greedy episode


@pytest.mark.parametrize("n", [5, 10, 50])
def test_blocksworld_episodes_follow_the_reported_trained_lengths(n):
    from nscharacterize.workloads.nlm.workload import blocksworld_mean_length, trained_length

    assert blocksworld_mean_length(10) == pytest.approx(12.5)      # the authors' README
    assert blocksworld_mean_length(50) == pytest.approx(85.8)
    p = BLOCKSWORLD.params(n=n)
    lengths = [trained_length("blocksworld", p, i, None) for i in range(20)]
    assert sum(lengths) / 20 == pytest.approx(blocksworld_mean_length(n), abs=1 / 20)
    assert max(lengths) - min(lengths) <= 1
    if n == 5:                                       # the quickstart size: cut episodes, not 4n
        w = BLOCKSWORLD.build({"n": 5}, seed=0)
        episodes = w.make_samples(4)
        assert w.info["episode_length"] == "trained" and w.info["step_limit"] == 20
        for i, ep in enumerate(episodes):
            assert ep.solved or len(ep.actions) == lengths[i]
        assert sum(len(ep.actions) for ep in episodes) < 4 * 20


def test_sort_episodes_take_the_minimum_swaps_and_path_episodes_dist_steps():
    from nscharacterize.workloads.nlm.envs.sort import swaps_to_sort

    w = SORT.build({"n": 10}, seed=0)
    for ep in w.make_samples(3):
        env = w.episodes.new_env(ep.index)
        assert env.step_limit == max(1, swaps_to_sort(env.array)) < 20
        assert ep.solved or len(ep.actions) == env.step_limit
    for ep in PATH.build({"n": 8}, seed=0).make_samples(2):
        assert ep.solved or len(ep.actions) == 4
    limit = SORT.build({"n": 10, "episode_length": "to_limit"}, seed=0)
    assert all(ep.solved or len(ep.actions) == 20 for ep in limit.make_samples(3))


def test_step_limits_per_task():
    assert SORT.build({"n": 7}, seed=0).info["step_limit"] == 14
    assert PATH.build({"n": 7}, seed=0).info["step_limit"] == 4
    assert BLOCKSWORLD.build({"n": 7}, seed=0).info["step_limit"] == 28
    w = SORT.build({"n": 5, "max_episode_steps": 3}, seed=0)
    assert w.info["step_limit"] == 3
    assert all(len(ep.actions) <= 3 for ep in w.make_samples(2))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_components_are_rerunnable_on_the_same_sample(spec):
    w = spec.build(spec.smoke, seed=0)
    (ep,) = w.make_samples(1)
    first = w.run(ep)
    second = w.run(ep)
    assert first == second
    assert w.make_samples(1)[0] == ep  # the sample itself is not mutated


def test_deterministic_from_seed():
    a = SORT.build({"n": 6}, seed=3)
    b = SORT.build({"n": 6}, seed=3)
    c = SORT.build({"n": 6}, seed=4)
    assert a.make_samples(3) == b.make_samples(3)
    trace_a, trace_c = (w.components[0].fn(w.make_samples(1)[0]) for w in (a, c))
    assert not (trace_a.observations[0] == trace_c.observations[0]).all()  # different permutation
    for pa, pb in zip(a.episodes.model.parameters(), b.episodes.model.parameters()):
        assert torch.equal(pa, pb)


def test_building_does_not_disturb_global_torch_rng():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    PATH.build({"n": 6}, seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_info_reports_largest_tensor():
    info = PATH.build({"n": 50}, seed=0).info  # building is cheap: nothing runs at n = 50
    assert info["largest_tensor_floats"] == 49_500_000
    assert info["mlp_input_widths"][4] == [100, 134, 264, 396]
    bw = BLOCKSWORLD.build({"n": 10}, seed=0).info
    assert bw["objects"] == 22 and bw["largest_tensor_floats"] == 216 * 22 * 22


def test_params_are_validated():
    with pytest.raises(pydantic.ValidationError):
        SORT.build({"n": 5, "bogus": 1}, seed=0)
    with pytest.raises(pydantic.ValidationError):
        PATH.build({"gen_method": "grid"}, seed=0)
    with pytest.raises(WorkloadError):
        registry.get_spec("nlm-nothing")
