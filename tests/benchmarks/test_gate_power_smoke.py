"""benchmarks/gate_power.py at tiny size, so that it cannot rot: the simulation over a pool of
run directories (here made by tests/support/gate_fakes.py: the real runs it normally collects take
minutes each on a loaded 2-core machine), every cell printed, rates in [0, 1], a 4x planted
slowdown on quiet fake runs caught and unchanged fake runs not failed."""
from __future__ import annotations

import json
import subprocess
import sys

from clirun import ROOT
from gate_fakes import make_run


def test_gate_power_runs_at_tiny_size(tmp_path):
    pool = tmp_path / "pool"
    for i in range(4):
        make_run(pool / "runs" / f"unchanged-{i:02d}", seed=i, n=4, noise=0.05)
    for i in range(2):
        make_run(pool / "runs" / f"planted2x-{i:02d}", seed=9 + i, n=4, noise=0.05,
                 scale={("mlp-demo", "encoder", c): 2.0 for c in ("gemm", "sparse_mm", "elementwise", "embedding",
                                                                   "data_movement", "data_transform", "other")})
    out = tmp_path / "power.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gate_power.py"), "--pool", str(pool), "--reuse",
                           "--runs", "4", "--planted-runs", "2", "--samples", "4", "--trials", "4", "--only",
                           "mlp-demo", "--pairs", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "false alarm" in proc.stdout and "90% power" in proc.stdout
    res = json.loads(out.read_text())["results"]
    # --pairs: whole runs one a side, 12 ordered pairs of unchanged runs, 4 x 2 against the planted
    pairs = json.loads(out.read_text())["pairs"]
    assert pairs == {"unchanged": {"fail": 0, "inconclusive": pairs["unchanged"]["inconclusive"],
                                   "pass": 12 - pairs["unchanged"]["inconclusive"]},
                     "real_2x": {"fail": 8, "inconclusive": 0, "pass": 0}}, pairs
    assert "[3] whole runs, one a side" in proc.stdout
    assert {(r["mode"], r["rounds"], r["max_rounds"], r["samples"]) for r in res} == {
        ("baseline", 1, 1, 3), ("baseline", 1, 1, 4), ("A/B fixed", 2, 2, 3), ("A/B", 2, 6, 3), ("A/B", 2, 8, 3),
        ("A/B", 2, 12, 3), ("A/B", 2, 12, 4)}
    for r in res:
        assert 0 <= r["false_alarm"] <= 1 and all(0 <= v <= 1 for v in r["caught"].values())
        assert r["false_alarm"] == 0                        # 5 % noise, unchanged: never a regression
        assert r["rounds"] <= r["mean_rounds"] <= r["max_rounds"]
    for ab in (r for r in res if r["mode"].startswith("A/B")):
        assert ab["caught"]["2"] == 1.0 and ab["real_2x_caught"] == 1.0
    # --rel-threshold: what a lower threshold would catch (5 % noise: 1.25x is caught at 0.1 in every
    # A/B trial); --abs-floor, --alpha and --unpaired reach every trial's settings too
    lower = tmp_path / "lower.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gate_power.py"), "--pool", str(pool), "--reuse",
                           "--runs", "4", "--planted-runs", "2", "--samples", "4", "--trials", "4", "--only",
                           "mlp-demo", "--mode", "A/B", "--rel-threshold", "0.1", "--abs-floor", "2e-5", "--alpha", "0.01",
                           "--unpaired", "--json", str(lower)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "gate defaults but (rel_threshold 0.1, abs_floor_s 2e-05, alpha 0.01," in proc.stdout and "paired False" in proc.stdout
    assert json.loads(lower.read_text())["changed_settings"] == {"rel_threshold": 0.1, "abs_floor_s": 2e-5, "alpha": 0.01,
                                                             "paired": False}
    low = json.loads(lower.read_text())["results"]
    assert {r["mode"] for r in low} == {"A/B fixed", "A/B"}
    for r in low:
        assert r["false_alarm"] == 0 and r["caught"]["1.25"] == 1.0, r


def test_a_cell_of_ones_own(tmp_path):
    """``--cell R-MxN`` runs one cell alone, one of CELLS or a new one (here 2 rounds fixed, 2 samples)."""
    pool = tmp_path / "pool"
    for i in range(4):
        make_run(pool / "runs" / f"unchanged-{i:02d}", seed=i, n=4, noise=0.05)
    make_run(pool / "runs" / "planted2x-00", seed=9, n=4, noise=0.05)
    out = tmp_path / "power.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gate_power.py"), "--pool", str(pool), "--reuse",
                           "--runs", "4", "--planted-runs", "1", "--samples", "4", "--trials", "2", "--only",
                           "mlp-demo", "--cell", "2x2", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())["results"]
    assert [(r["mode"], r["rounds"], r["max_rounds"], r["samples"]) for r in res] == [("A/B fixed", 2, 2, 2)]
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gate_power.py"), "--pool", str(pool), "--reuse",
                          "--runs", "4", "--planted-runs", "1", "--only", "mlp-demo", "--cell", "two"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "expected R-MxN" in bad.stderr
