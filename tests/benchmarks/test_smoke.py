"""Every benchmark runs at a tiny size and prints its numbers, so none can rot unnoticed.

Each script in benchmarks/ reads ``NSC_BENCH_TINY=1`` and shrinks its work (sizes, rounds, a small
config); here each runs as a subprocess, as ``make bench`` runs it, and must exit 0 and print the
line that carries its result. Nothing is timed: the numbers on a shared machine are noise, the
point is that the code path still works end to end.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from clirun import ROOT

BENCHMARKS = ROOT / "benchmarks"

# script -> a pattern of the line holding its result
EXPECTED = {
    "ceilings.py": r"round 0: peak float32 [\d.]+ GFLOP/s, peak float64 [\d.]+ GFLOP/s, bandwidth [\d.]+ GB/s",
    "cost_curve.py": r"\| mlp-demo x2 \| new \| 2 \| [\d.]+ \| [\d.]+ \|",
    "classify_throughput.py": r"classified 20,000 events \(\d+ distinct keys\) in [\d.]+ s = [\d.]+ M events/s",
    "end_to_end.py": r"nscharacterize run configs/compat.yaml: [\d.]+ s end to end \(ok\)",
    "external_traces.py": r"\| T13_hta_triton \| [\d.]+ \| - \| 0\.0 \| 0\.0 \|",
    "gate_power.py": r"mlp-demo +baseline +1 x 3 +\d+%(.|\n)*false alarms over all cells: [\d.]+%",
    "false_alarm.py": r"false alarms, sequential runs: \d/3 .*\n.*false alarms, interleaved ABBA: \d/1",
    # busy, idle, busy under HTA's conventions 1-2 and under all four
    "import_vs_hta.py": r"nscharacterize load \+ timeline \+ rows: +[\d.]+ s(.|\n)*mlp-demo\.\S+( +[\d.]+){4} \|",
    "nmn_schedules.py": r"per_example +calls +\d+ +engine +[\d.]+ ms",
    "profiler_overhead.py": r"mlp-demo / \w+ +wall +[\d.]+ ms +profiled +[\d.]+ ms +overhead +[\d.]+x",
    "sample_writes.py": r"2000 event rows over 2 samples: \d+ ms per sample write, [\d.]+ s per workload-end write",
    "sweep_executors.py": r"serial: [\d.]+ s +ray \(2 workers\): [\d.]+ s(.|\n)*nlm-sort",
    "tool_overhead.py": r"tool's own time after / before: [\d.]+(.|\n)*same categories True",
}


# Benchmarks whose tiny-size run is a test of its own (it needs arguments or a fixture).
SMOKED_ELSEWHERE = {
    "ground_truth.py": "tests/attribution/test_ground_truth.py",
    "compensation_tables.py": "tests/benchmarks/test_smoke.py::test_compensation_tables_on_a_saved_run",
}


def test_every_benchmark_has_a_smoke_test():
    unknown = sorted({p.name for p in BENCHMARKS.glob("*.py")} - set(EXPECTED) - set(SMOKED_ELSEWHERE))
    assert not unknown, (f"{unknown}: give each a tiny size under NSC_BENCH_TINY=1 and a line in EXPECTED here "
                         "(the pattern of the line that carries its result)")
    gone = sorted(set(EXPECTED) - {p.name for p in BENCHMARKS.glob("*.py")})
    assert not gone, f"{gone} no longer exist: remove them from EXPECTED"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_benchmark_runs_at_tiny_size(script, tmp_path):
    env = {**os.environ, "NSC_BENCH_TINY": "1", "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    proc = subprocess.run([sys.executable, str(BENCHMARKS / script)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=880)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert re.search(EXPECTED[script], proc.stdout), proc.stdout[-3000:]


def test_compensation_tables_on_a_saved_run(demo_run):
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "compensation_tables.py"), str(demo_run)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"\| mlp-demo / encoder \| ", proc.stdout), proc.stdout[-3000:]
