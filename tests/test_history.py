"""History store, trend output and step-change detection."""
from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from gate_fakes import make_run  # noqa: E402
from test_compare import DM, cli, one_error_line  # noqa: E402

from nscharacterize.gate import history  # noqa: E402
from nscharacterize.gate.stats import detect_steps  # noqa: E402


def test_detect_steps_finds_shift_and_ignores_noise():
    rng = np.random.default_rng(0)
    false = 0
    for seed in range(50):
        y = 10 * rng.lognormal(0, 0.05, 20)
        false += bool(detect_steps(y))
    assert false <= 2
    y = np.concatenate([10 * rng.lognormal(0, 0.05, 8), 13 * rng.lognormal(0, 0.05, 7)])
    assert detect_steps(y) == [8]
    y = np.concatenate([np.full(5, 10.0), np.full(5, 15.0), np.full(5, 10.0)]) + rng.normal(0, 0.2, 15)
    assert detect_steps(y) == [5, 10]
    assert detect_steps(np.array([1.0, 2.0])) == []


def test_history_add_show_plot_and_step(tmp_path):
    db = tmp_path / "h.sqlite"
    runs = []
    for i in range(8):
        scale = {DM: 2.0} if i >= 5 else {}
        runs.append(make_run(tmp_path / f"r{i}", seed=i, scale=scale, commit=f"{i:x}" * 40,
                             created=f"2026-11-{10 + i:02d}T00:00:00+00:00"))
    proc = cli("history", "add", *map(str, runs), "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    # adding again is a no-op
    assert "already in history" in cli("history", "add", str(runs[0]), "--db", str(db)).stdout
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 8
    con.close()
    plot = tmp_path / "trend.png"
    proc = cli("history", "show", "--db", str(db), "--workload", "mlp-demo", "--plot", str(plot))
    assert proc.returncode == 0, proc.stderr
    assert plot.is_file() and plot.stat().st_size > 1000
    line = [ln for ln in proc.stdout.splitlines() if "data_movement" in ln][0]
    assert "55555555" in line                              # the first run of the shift
    other = [ln for ln in proc.stdout.splitlines() if " gemm " in ln][0]
    assert other.rstrip().endswith("-")                    # no step in an unchanged category
    series = history.load_series(db, workload="mlp-demo")
    dm = [s for s in series if s.category == "data_movement"][0]
    assert dm.steps == [5]


def test_history_errors(tmp_path):
    assert "no such history" in one_error_line(cli("history", "show", "--db", str(tmp_path / "none.sqlite")))
    bad = tmp_path / "bad.sqlite"
    bad.write_text("this is not sqlite" * 100)
    run = make_run(tmp_path / "r", seed=1)
    assert "bad.sqlite" in one_error_line(cli("history", "add", str(run), "--db", str(bad)))
