"""Dolphin-suite workloads: provenance semantics, agreement of the per-sample and vectorized
strategies (values and gradients), the HWF program, and full classification of every
strategy x provenance x mode at a tiny size, plus one real CLI run."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from clirun import ROOT, cuda, run_cli, write_config
from nscharacterize.profiler.session import SessionSettings, profile_workload
from nscharacterize.taxonomy.classifier import Taxonomy
from nscharacterize.workloads.dolphin import per_sample, vectorized
from nscharacterize.workloads.dolphin.programs import (NAN, evaluate_tokens, hwf_program, ordered_unique,
                                                      sum_program)
from nscharacterize.workloads.dolphin.workload import ThroughJacobian, program_loss
from nscharacterize.workloads.registry import get_spec

PROVENANCES = ("damp", "dtkp-am")


def vectorized_probs(program, prov_name, probs, k=3) -> list[dict]:
    prov = vectorized.make_provenance(prov_name, k)
    out = vectorized.run_program(program, prov, probs)
    p = prov.probabilities(out.tags)
    return [{s: float(p[b, i]) for i, s in enumerate(out.symbols) if float(p[b, i]) != 0.0}
            for b in range(probs.shape[0])]


def per_sample_probs(program, prov_name, probs, k=3) -> list[dict]:
    prov = per_sample.make_provenance(prov_name, k, with_gradient=False)
    res = per_sample.reason_batch(program, prov, probs.tolist(), probs.shape[2], with_gradient=False)
    return [{s: v for s, v in d.items() if v != 0.0} for d in res.per_sample]


def assert_same(a: dict, b: dict, tol=1e-6):
    assert a.keys() == b.keys(), (sorted(map(str, a)), sorted(map(str, b)))
    for s in a:
        assert abs(a[s] - b[s]) <= tol, (s, a[s], b[s])


def random_probs(batch, positions, classes, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(batch, positions, classes, generator=g) * 2, dim=-1)


# ---- hand-computed cases ------------------------------------------------------------------------

TWO_DIGITS = torch.zeros(1, 2, 10)
TWO_DIGITS[0, 0, :3] = torch.tensor([0.5, 0.3, 0.2])
TWO_DIGITS[0, 1, :2] = torch.tensor([0.6, 0.4])


@pytest.mark.parametrize("prov,k,expected", [
    # P(sum) = sum over digit pairs: 0: .5*.6; 1: .5*.4 + .3*.6; 2: .3*.4 + .2*.6; 3: .2*.4
    ("damp", 3, {0: 0.30, 1: 0.38, 2: 0.24, 3: 0.08}),
    # one proof per sum: only the most probable digit pair counts
    ("dtkp-am", 1, {0: 0.30, 1: 0.20, 2: 0.12, 3: 0.08}),
    # two proofs per sum: every sum here has at most two, so top-2 proofs is exact
    ("dtkp-am", 2, {0: 0.30, 1: 0.38, 2: 0.24, 3: 0.08}),
])
def test_sum_of_two_digits_by_hand(prov, k, expected):
    for got in (vectorized_probs(sum_program(2), prov, TWO_DIGITS, k)[0],
                per_sample_probs(sum_program(2), prov, TWO_DIGITS, k)[0]):
        assert_same(got, expected)


def test_hwf_program_semantics():
    assert evaluate_tokens([2, "+", 3, "*", 4]) == 14
    assert evaluate_tokens([8, "/", 2, "/", 2]) == 2
    assert evaluate_tokens([1, "-", 2, "-", 3]) == -4
    assert evaluate_tokens([7, "-", 6, "/", 3, "*", 9]) == -11
    assert evaluate_tokens([3, "/", 0, "+", 1]) is NAN
    symbols, index = ordered_unique([3, NAN, 1.5, 3, float("nan") * 0 if False else NAN, -2])
    assert symbols[:3] == [-2, 1.5, 3] and symbols[3] is NAN and index == [2, 3, 1, 2, 3, 0]


@pytest.mark.parametrize("prov", PROVENANCES)
def test_hwf_three_symbols_by_brute_force(prov):
    """Without symbol pruning, DAMP is the exact sum over all formulas; so is DTKP-AM with enough
    proofs (no value of a three-symbol formula has more than 20)."""
    probs = random_probs(2, 3, 14, seed=1)
    k = 20
    program = hwf_program(3, None)
    expected = [dict() for _ in range(2)]
    for b in range(2):
        for a, o, c in itertools.product(range(10), range(4), range(10)):
            v = evaluate_tokens([a, "+-*/"[o], c])
            w = float(probs[b, 0, a] * probs[b, 1, 10 + o] * probs[b, 2, c])
            expected[b][v] = expected[b].get(v, 0.0) + w
    for b, got in enumerate(vectorized_probs(program, prov, probs, k)):
        assert_same(got, expected[b], 1e-6)
    for b, got in enumerate(per_sample_probs(program, prov, probs, k)):
        assert_same(got, expected[b], 1e-6)


# ---- provenance semantics -----------------------------------------------------------------------

def test_dtkp_tags_are_k_proofs_over_input_facts():
    probs = random_probs(2, 3, 10, seed=2)
    prov = vectorized.TopKProofsTensor(k=3)
    out = vectorized.run_program(sum_program(3), prov, probs)
    assert out.symbols == list(range(28))
    assert tuple(out.tags.shape) == (2, 28, 3, 3)          # [batch, symbols, k, input facts]
    # sum 0 has one proof, digits (0, 0, 0): its row holds their probabilities, the other k-1 are absent
    assert torch.allclose(out.tags[:, 0, 0], probs[:, :, 0])
    assert (out.tags[:, 0, 1:] == vectorized.ABSENT).all()
    # every present proof chooses one symbol per position (no NULL left after three facts)
    present = (out.tags > -1).all(-1)
    assert ((out.tags[present] >= 0) & (out.tags[present] <= 1)).all()


def test_dtkp_truncation_is_monotone_and_exact_with_enough_proofs():
    probs = random_probs(3, 2, 10, seed=3)
    program = sum_program(2)
    exact = vectorized_probs(program, "damp", probs)
    previous = None
    for k in (1, 2, 5, 10):      # a sum of two digits has at most 10 proofs
        got = vectorized_probs(program, "dtkp-am", probs, k)
        for b in range(3):
            for s, v in got[b].items():
                assert v <= exact[b][s] + 1e-7
                if previous is not None:
                    assert v >= previous[b][s] - 1e-7
        previous = got
    for b in range(3):
        assert_same(previous[b], exact[b])


def test_damp_clamps_to_one():
    prov = vectorized.AddMultTensor()
    tags = torch.tensor([[0.7, 0.6, 0.2]])
    assert prov.disjoin_into(tags, [0, 0, 1], 2).tolist() == [[1.0, pytest.approx(0.2)]]
    assert per_sample.AddMult().tag_clamp(1.3) == 1.0


def test_keep_top_symbols_is_per_sample_and_unions_the_batch():
    prov = vectorized.AddMultTensor()
    d = vectorized.BatchedDist(list("abcd"), torch.tensor([[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]]))
    kept = vectorized.keep_top_symbols(prov, d, 2)
    assert kept.symbols == list("abcd")
    torch.testing.assert_close(kept.tags, torch.tensor([[0.4, 0.3, 0.0, 0.0], [0.0, 0.0, 0.3, 0.4]]))
    d = vectorized.BatchedDist(list("abcd"), torch.tensor([[0.4, 0.3, 0.2, 0.1], [0.3, 0.4, 0.2, 0.1]]))
    kept = vectorized.keep_top_symbols(prov, d, 2)
    assert kept.symbols == list("ab")           # symbols no sample keeps are dropped


# ---- agreement of the two strategies ------------------------------------------------------------

@pytest.mark.parametrize("prov", PROVENANCES)
@pytest.mark.parametrize("task,size", [("sum", 3), ("sum", 5), ("hwf", 5), ("hwf", 7)])
def test_strategies_agree(task, size, prov):
    program = sum_program(size) if task == "sum" else hwf_program(size, 3)
    probs = random_probs(3, size, 10 if task == "sum" else 14, seed=size)
    vec = vectorized_probs(program, prov, probs)
    ps = per_sample_probs(program, prov, probs)
    for b in range(3):
        assert_same(vec[b], ps[b])


@pytest.mark.parametrize("prov", PROVENANCES)
@pytest.mark.parametrize("task,size", [("sum", 3), ("hwf", 5)])
def test_gradients_agree(task, size, prov):
    """The per-sample Jacobian (dual numbers for damp, proofs for dtkp-am) gives the same gradient
    of the training loss as autograd through the vectorized provenance."""
    program = sum_program(size) if task == "sum" else hwf_program(size, 3)
    classes = 10 if task == "sum" else 14
    base = random_probs(3, size, classes, seed=7).double()
    labels = torch.tensor([3.0, 5.0, 7.0], dtype=torch.float64)

    x = base.clone().requires_grad_(True)
    tprov = vectorized.make_provenance(prov, 3)
    out = vectorized.run_program(program, tprov, x)
    y = tprov.probabilities(out.tags)
    program_loss(y, labels, out.symbols).backward()
    grad_vec = x.grad.clone()

    x2 = base.clone().requires_grad_(True)
    pprov = per_sample.make_provenance(prov, 3, with_gradient=True)
    res = per_sample.reason_batch(program, pprov, x2.detach().tolist(), classes, with_gradient=True)
    jac = torch.zeros(3, len(res.symbols), size * classes, dtype=torch.float64)
    s, c, f, d = res.jacobian
    jac[s, c, f] = torch.tensor(d, dtype=torch.float64)
    y2 = ThroughJacobian.apply(x2.flatten(1), torch.tensor(res.values, dtype=torch.float64), jac)
    program_loss(y2, labels, res.symbols).backward()
    assert grad_vec.abs().sum() > 0
    # the two outputs list symbols differently (vectorized keeps zero-probability ones), but a
    # zero-probability symbol adds nothing to the summed loss, so the gradients must match
    torch.testing.assert_close(x2.grad, grad_vec, atol=1e-6, rtol=1e-5)


# ---- the workloads ------------------------------------------------------------------------------

COMBOS = list(itertools.product(("dolphin-sum", "dolphin-hwf"), ("vectorized", "per-sample"), PROVENANCES,
                                ("inference", "training")))


@pytest.mark.parametrize("name,strategy,prov,mode", COMBOS)
def test_every_strategy_runs_fully_classified(name, strategy, prov, mode):
    size = {"n": 3} if name == "dolphin-sum" else {"length": 3}
    workload = get_spec(name).build(dict(size, batch=2, strategy=strategy, provenance=prov, mode=mode), seed=0)
    assert [c.name for c in workload.components] == (["perception", "reasoning", "update"] if mode == "training"
                                                     else ["perception", "reasoning"])
    prof = profile_workload(workload, name, SessionSettings(samples=1, warmup=0, repeats=1))
    events = Taxonomy().classify_events(prof.events)
    torch_events = events[events["source"].isin(["op", "annotation"])]
    assert sorted(set(torch_events.loc[torch_events["rule"] == "", "name"])) == []
    python = events[events["source"] == "python"]
    if strategy == "per-sample":
        assert len(python) > 0
        verdicts = set(zip(python["rule"].astype(str), python["subcategory"].astype(str)))
        assert {("py-dolphin-tag-algebra", "arithmetic"), ("py-dolphin-symbol-function", "arithmetic"),
                ("py-dolphin-search", "program_control"), ("py-dolphin-input-facts", "feature_query"),
                ("py-tensor-to-python", "parsing_io")} <= verdicts
    else:
        assert len(python) == 0
    if mode == "training":
        update = torch_events[torch_events["component"] == "update"]
        rules = set(update["rule"].astype(str))
        assert {"autograd-engine", "optimizer-range", "accumulate-grad"} <= rules
        names = set(update["name"])
        backward_of = ("ThroughJacobianBackward" if strategy == "per-sample"
                       else "ScatterAddBackward0" if prov == "damp" else "GatherBackward0")
        assert f"autograd::engine::evaluate_function: {backward_of}" in names
        assert "aten::convolution_backward" in names


@pytest.mark.parametrize("strategy", ["vectorized", "per-sample"])
def test_training_step_updates_the_cnn(strategy):
    from nscharacterize.workloads.dolphin.data import sum_batch
    from nscharacterize.workloads.dolphin.nets import MNISTNet
    from nscharacterize.workloads.dolphin.workload import SumParams, build_dolphin

    torch.manual_seed(0)
    net = MNISTNet()
    p = SumParams(n=3, batch=2, strategy=strategy, provenance="dtkp-am", mode="training")
    workload = build_dolphin("sum", sum_program(3), net, 10, lambda i: sum_batch(0, i, 3, 2), p)
    before = [t.detach().clone() for t in net.parameters()]
    loss = workload.run(workload.make_samples(1)[0])
    assert math.isfinite(float(loss))
    changed = [not torch.equal(a, b) for a, b in zip(before, net.parameters())]
    assert all(changed)          # the gradient reached every layer of the CNN through the program


def test_cli_runs_a_dolphin_config_and_rejects_an_even_length(tmp_path):
    cfg = write_config(tmp_path / "d.yaml", samples=1, warmup=0, repeats=1, workloads=[
        {"workload": "dolphin-sum", "name": "sum-ps-train", "params": {"n": 3, "batch": 2, "strategy": "per-sample",
                                                                       "mode": "training"}}])
    proc = run_cli("run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    table = (next((tmp_path / "runs").iterdir()) / "table.md").read_text()
    for row in ("sum-ps-train | perception", "sum-ps-train | reasoning", "sum-ps-train | update"):
        assert row in table
    bad = write_config(tmp_path / "bad.yaml", workloads=[{"workload": "dolphin-hwf", "params": {"length": 6}}])
    proc = run_cli("run", str(bad), "--out", str(tmp_path / "runs"), "--quiet")
    assert proc.returncode == 2
    assert "length" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_ci_suite_runs_the_dolphin_smoke_sizes():
    """configs/ci.yaml (generated by scripts/ci_config.py) carries both workloads at their smoke
    sizes: one per-sample, one vectorized, one of them a training step."""
    import yaml

    entries = {e["workload"]: e["params"] for e in yaml.safe_load((ROOT / "configs" / "ci.yaml").read_text())["workloads"]}
    for name in ("dolphin-sum", "dolphin-hwf"):
        assert entries[name] == get_spec(name).smoke
    assert {entries["dolphin-sum"]["strategy"], entries["dolphin-hwf"]["strategy"]} == {"vectorized", "per-sample"}
    assert "training" in {entries["dolphin-sum"]["mode"], entries["dolphin-hwf"]["mode"]}


@cuda
@pytest.mark.parametrize("prov", PROVENANCES)
def test_vectorized_on_cuda_agrees_and_training_is_fully_classified(prov):
    probs = random_probs(3, 4, 10, seed=11)
    program = sum_program(4)
    on_gpu = vectorized_probs(program, prov, probs.cuda())
    for b, expected in enumerate(per_sample_probs(program, prov, probs)):
        assert_same(on_gpu[b], expected)
    workload = get_spec("dolphin-sum").build({"n": 3, "batch": 2, "provenance": prov, "mode": "training"}, seed=0)
    prof = profile_workload(workload, "gpu", SessionSettings(samples=1, warmup=1, repeats=1, device="cuda"))
    events = Taxonomy().classify_events(prof.events)
    assert (events["source"] == "kernel").any()
    assert sorted(set(events.loc[(events["source"] != "python") & (events["rule"] == ""), "name"])) == []
