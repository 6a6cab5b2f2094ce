"""The round rule and the sequential gate: a drift measure that does not grow with the range of the
rounds (a quiet A/A of small, noisy components passes; a planted 2x still fails), and `ab` adding
rounds while the data cannot decide, with alpha split over the looks (docs/ci.md, "Sequential
rounds")."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from gate_fakes import make_run

from nscharacterize.gate import abrun
from nscharacterize.gate.abrun import Plan, Side, interleave, merge_runs
from nscharacterize.gate.compare import compare_runs
from nscharacterize.gate.samples import TOTAL, per_round_values
from nscharacterize.gate.settings import CompareSettings
from nscharacterize.gate.stats import round_drift, rounds_noise
from nscharacterize.rundir.store import RunDir

ROOT = Path(__file__).resolve().parents[2]
ENCODER = [("mlp-demo", "encoder", c) for c in ("gemm", "sparse_mm", "elementwise", "embedding", "data_movement",
                                                "data_transform", "other")]


def _side(tmp: Path, name: str, rounds: int, n: int, noise: float, seed: int, scale=None) -> Path:
    return merge_runs([make_run(tmp / f"{name}{i}", seed=seed + i, n=n, noise=noise, scale=scale)
                       for i in range(rounds)], tmp / name, name)


def _old_range(run: Path, key) -> float:
    """The former drift measure: the range of the round medians of one side (max / min - 1)."""
    wl, comp, cat = key
    meds = [float(np.median(r[(wl, comp, "category", cat)]))
            for r in per_round_values(RunDir(run).samples(), ["category"], {"mlp-demo", "toy-b"})]
    return max(meds) / min(meds) - 1


def test_quiet_aa_of_noisy_rounds_passes_and_a_planted_2x_fails(tmp_path):
    """Six rounds of four samples a side, 20 % per-sample noise, no round effect: the round medians
    differ by more than the 25 % threshold in range (the old rule said INCONCLUSIVE), yet the data
    resolves a 25 % change, so unchanged code passes; 2x in every new round fails."""
    a = _side(tmp_path, "A", 6, 4, 0.2, 100)
    b = _side(tmp_path, "B", 6, 4, 0.2, 200)
    ranges = [max(_old_range(a, k), _old_range(b, k)) for k in [*ENCODER, ("mlp-demo", "encoder", TOTAL),
                                                                   ("toy-b", "net", TOTAL)]]
    assert max(ranges) > 0.25, ranges      # what the range rule called drift
    cmp = compare_runs(a, b)
    assert cmp.exit_code == 0, cmp.reason()
    enc = next(r for r in cmp.rows if (r.workload, r.component, r.category) == ("mlp-demo", "encoder", TOTAL))
    assert enc.round_drift is not None and enc.round_drift < 0.1    # no round effect beyond the samples
    slow = _side(tmp_path, "S", 6, 4, 0.2, 300, scale={k: 2.0 for k in ENCODER})
    cmp = compare_runs(a, slow)
    assert cmp.exit_code == 1
    assert ("mlp-demo", "encoder", TOTAL) in {(r.workload, r.component, r.category) for r in cmp.rows
                                              if r.verdict == "regressed"}


def test_round_drift_and_band_do_not_grow_with_rounds():
    """The round effect estimate and the band of the change from rounds: with more rounds of the same
    noise the band shrinks (a range would grow)."""
    rng = np.random.default_rng(0)

    def rounds(k, shift=0.0):
        return [np.exp(rng.normal(shift * (i % 2), 0.2, 4)) for i in range(k)]

    few, many = rounds(3), rounds(12)
    assert round_drift(few) < 0.15 and round_drift(many) < 0.15
    assert rounds_noise(many, rounds(12), 1.0) < rounds_noise(few, rounds(3), 1.0)
    # a real round effect (every other round 50 % slower) is measured as one
    assert round_drift(rounds(8, shift=np.log(1.5))) > 0.15


def test_alpha_is_split_over_the_looks(tmp_path):
    """With looks = k, half of alpha is the last look's and the other half is split evenly over the
    k - 1 before it (a look not named is held to an earlier look's level): the levels sum to alpha.
    A change significant at 0.002 but not at 0.001 / 39 is not a regression at an early one of 40
    looks."""
    levels = [CompareSettings(looks=5, look=k).alpha_look for k in range(1, 6)]
    assert levels == pytest.approx([0.00025] * 4 + [0.001]) and sum(levels) == pytest.approx(0.002)
    assert CompareSettings(looks=5).alpha_look == pytest.approx(0.00025)
    assert CompareSettings(looks=1, look=1).alpha_look == CompareSettings().alpha_look == 0.002
    a = _side(tmp_path, "A", 2, 4, 0.3, 1)
    b = _side(tmp_path, "B", 2, 4, 0.3, 11, scale={k: 1.6 for k in ENCODER})
    key = ("mlp-demo", "encoder", TOTAL)
    early = 0.001 / 39
    one = next(r for r in compare_runs(a, b).rows if (r.workload, r.component, r.category) == key)
    many = compare_runs(a, b, CompareSettings(looks=40, look=3))
    row = next(r for r in many.rows if (r.workload, r.component, r.category) == key)
    assert CompareSettings(looks=40, look=3).alpha_look == pytest.approx(early)
    assert one.verdict == "regressed" and one.p_value < 0.002
    assert all(r.p_value < early for r in many.rows if r.verdict == "regressed")
    assert row.verdict == "regressed" or row.p_value >= early
    assert any("split over up to 40 looks" in n and "look 3 at" in n for n in many.notes)


def test_the_pass_level_is_split_over_the_looks_as_alpha_is():
    """A pass may come at any look, so the 5 % a threshold-sized change may pass is split like alpha:
    half at the last look, the rest evenly before it; an early look needs a tighter upper bound."""
    from nscharacterize.gate.verdicts import Row, Z_PASS, decide, pass_z

    levels = [CompareSettings(looks=7, look=k).pass_level for k in range(1, 8)]
    assert levels == pytest.approx([0.025 / 6] * 6 + [0.025]) and sum(levels) == pytest.approx(0.05)
    assert pass_z(CompareSettings()) == Z_PASS
    assert pass_z(CompareSettings(looks=7, look=7)) == pytest.approx(1.96, abs=0.01)
    assert pass_z(CompareSettings(looks=7, look=1)) == pytest.approx(2.64, abs=0.01)

    def total(noise_s: float) -> Row:   # unchanged 10 ms total whose band is noise_s
        return Row("w", "c", "category", TOTAL, "neural", 0.010, 0.010, 1.0, 0.0, noise_s, 0.1, 0.1,
                   0.5, 6, 6, verdict="unchanged", test="paired")

    # a band of 2.2 ms against a smallest regression of 2.5 ms (25 % of 10 ms): the upper bound is
    # 1.8 ms with one look (z 1.645), 2.2 ms at the last of seven (1.96), 2.9 ms at the first (2.64)
    one, early, last = total(0.0022), total(0.0022), total(0.0022)
    decide(one, CompareSettings())
    decide(early, CompareSettings(looks=7, look=1))
    decide(last, CompareSettings(looks=7, look=7))
    assert one.verdict == "unchanged", one
    assert early.verdict == "inconclusive" and last.verdict == "unchanged"


def _fake_rounds(monkeypatch, tmp_path, slow_b: float = 1.0):
    """run_once replaced by fake run directories (the stopping rule, not the profiler, is under test)."""
    counter = iter(range(1000))

    def fake(side, out, samples, log):
        i = next(counter)
        scale = {k: slow_b for k in ENCODER} if side.label == "B" else None
        log(f"[{side.label}] fake round")
        return make_run(out, seed=i, n=samples or 4, noise=0.2, scale=scale)

    monkeypatch.setattr(abrun, "run_once", fake)
    return Side("A", tmp_path / "a.yaml", tmp_path), Side("B", tmp_path / "b.yaml", tmp_path)


def test_plan_adds_rounds_while_inconclusive_and_stops_on_a_decision(monkeypatch, tmp_path):
    a, b = _fake_rounds(monkeypatch, tmp_path)
    codes = iter([(3, "w/c/total: -3% ± 41% noise (and 2 more)"), (3, ""), (0, "")])
    seen = []

    def judge(x, y):
        seen.append(len(RunDir(x).samples()["round"].unique()))
        return next(codes)

    logs: list[str] = []
    interleave(a, b, 2, 4, tmp_path / "o", log=logs.append, plan=Plan(6, judge))
    assert seen == [2, 3, 4]                      # judged after 2, 3, 4 rounds; stopped at the decision
    assert sorted(p.name for p in (tmp_path / "o" / "rounds").iterdir()) == [
        f"{r:02d}-{s}" for r in range(4) for s in "AB"]
    assert [ln.split("]")[0] for ln in logs if ln.startswith("[")] == ["[A", "[B", "[B", "[A", "[A", "[B", "[B", "[A"]
    assert any("look 3: exit 0 after 4 rounds" in ln for ln in logs)
    # each undecided look says what held it, where the judge says (the gate's judge always does)
    assert "look 1: inconclusive after 2 rounds a side (w/c/total: -3% ± 41% noise (and 2 more)); adding round 3 of at most 6" in logs
    assert "look 2: inconclusive after 3 rounds a side; adding round 4 of at most 6" in logs
    assert Plan(6, judge).looks(2) == 5


def test_plan_stops_at_max_rounds_and_at_the_budget(monkeypatch, tmp_path):
    a, b = _fake_rounds(monkeypatch, tmp_path)
    seen = []
    interleave(a, b, 2, 4, tmp_path / "o", plan=Plan(3, lambda x, y: seen.append(1) or (3, "")))
    assert len(seen) == 1 and len(list((tmp_path / "o" / "rounds").iterdir())) == 6   # judged once, 3 rounds
    logs: list[str] = []
    interleave(a, b, 2, 4, tmp_path / "p", log=logs.append, plan=Plan(6, lambda x, y: (3, ""), budget_s=1e-6))
    assert len(list((tmp_path / "p" / "rounds").iterdir())) == 4
    assert any("budget" in ln for ln in logs)


def _config(path: Path, copies: int) -> Path:
    params = {"objects": 64, "hidden": 256, **({"copies": copies} if copies else {})}
    path.write_text(yaml.safe_dump({"name": "seq", "seed": 0, "device": "cpu", "threads": 1, "samples": 2,
                                    "warmup": 1, "repeats": 1, "workloads": [{"workload": "mlp-demo", "params": params}]}))
    return path


def _ab(tmp_path: Path, a: Path, b: Path, name: str, *extra: str):
    out = tmp_path / name
    proc = subprocess.run([sys.executable, "-m", "nscharacterize.cli", "ab", str(a), str(b), "--rounds", "1",
                           "--max-rounds", "3", "--abs-floor", "3e-4", "--out", str(out), "--json",
                           str(tmp_path / f"{name}.json"), *extra], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode in (0, 1, 3), proc.stderr[-2000:]
    data = json.loads((tmp_path / f"{name}.json").read_text())
    rounds = len(list((out / "rounds").iterdir())) // 2
    return proc, data, rounds


def test_sequential_ab_with_real_runs(tmp_path):
    """Real runs at tiny size: `ab --rounds 1 --max-rounds 3` judges after every round at alpha / 3;
    it stops early only on a decision, else at 3 rounds; unchanged code never fails; a planted
    slowdown (300 clones a sample, about +1 ms of data movement) is never passed."""
    a = _config(tmp_path / "a.yaml", 0)
    proc, data, rounds = _ab(tmp_path, a, a, "aa")
    assert proc.returncode != 1, data["summary"]
    assert any("split over up to 3 looks" in n for n in data["notes"])
    assert data["settings"]["looks"] == 3
    # the verdict's look is the rounds merged so far: its level is that look's share of alpha
    assert data["settings"]["look"] == rounds
    assert 1 <= rounds <= 3 and (rounds == 3 or proc.returncode == 0), (rounds, proc.stderr[-1500:])
    looks = [ln for ln in proc.stderr.splitlines() if ln.startswith("look ")]
    assert len(looks) == min(rounds, 2)          # no look after the last allowed round: that is the verdict
    b = _config(tmp_path / "b.yaml", 300)
    proc, data, rounds = _ab(tmp_path, a, b, "ab")
    assert proc.returncode in (1, 3), data["summary"]
    assert rounds == 3 or proc.returncode == 1


def test_ci_gate_config_is_a_subset_of_ci():
    """configs/ci-gate.yaml (the CI A/A gate) runs workloads of configs/ci.yaml with their params."""
    ci = yaml.safe_load((ROOT / "configs" / "ci.yaml").read_text())
    gate = yaml.safe_load((ROOT / "configs" / "ci-gate.yaml").read_text())
    full = {w["workload"]: w["params"] for w in ci["workloads"]}
    assert gate["workloads"] and all(full[w["workload"]] == w["params"] for w in gate["workloads"])
    script = (ROOT / "scripts" / "ci_gate.sh").read_text()
    assert "configs/ci-gate.yaml" in script and "--max-rounds" in script and "--budget" in script
