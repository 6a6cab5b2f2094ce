"""benchmarks/cost_curve.py at a tiny size, both trees: the side-by-side path (this tree against a
"base" tree, here this tree again), the ci.yaml row's code path on a small config, and --check.

Nothing is timed: the test checks that every row is measured (no "not measured") and that each
number is there; the numbers on a shared machine are noise.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from clirun import ROOT, write_config


@pytest.mark.timeout(900)
def test_cost_curve_measures_both_trees(tmp_path):
    small = write_config(tmp_path / "small.yaml", samples=1, warmup=0, repeats=1,
                         workloads=[{"workload": "mlp-demo", "params": {"objects": 6, "hidden": 16}}])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NSC_BENCH_TINY": "0"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cost_curve.py"), "--base", str(ROOT),
                           "--sizes", "1,2", "--ci", str(small), "--check", "1,2"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=880)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "not measured" not in out, out
    number = r"[\d.]+"
    # import, of which torch, run, build, passes | metrics pass: all / models | tool in loop, fixed |
    # share (share with torch's import, the build and the metrics pass's models as the tool's) | peak RSS
    cells = rf"( {number} \|){{5}} {number} / {number} \|( {number} \|){{2}} {number}% \({number}%\) \| {number} \|"
    for label, samples in (("mlp-demo x1", 1), ("mlp-demo x2", 2)):
        for tree in ("new", "base"):
            assert re.search(rf"\| {label} \| {tree} \| {samples} \|{cells}", out), (label, tree, out)
    assert re.search(rf"\| small.yaml \| new \| 1 \|{cells}", out), out
    assert re.search(r"2 samples take [\d.]+x the wall time of 1 \(2x the samples\)", out), out
    assert re.search(r"tool share of small.yaml \(its own imports included\): \d+%", out), out
