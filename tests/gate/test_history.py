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
    for _ in range(50):
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


def _count(db) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    finally:
        con.close()


def test_concurrent_adds_store_each_run_once(tmp_path):
    """Real concurrent `history add` processes: one run added by three at once is stored once, and two
    distinct runs created in the same second (same config, no commit) are both stored."""
    from gate_fakes import concurrent_cli

    same = dict(commit=None, created="2026-11-21T00:00:00+00:00")
    x = make_run(tmp_path / "x", seed=1, **same)
    y = make_run(tmp_path / "y", seed=2, **same)
    for trial in range(2):
        db = tmp_path / f"h{trial}.sqlite"
        procs = concurrent_cli([("history", "add", str(r), "--db", str(db)) for r in (x, y, x, y, x, y)], tmp_path)
        assert [p.returncode for p in procs] == [0] * 6, [p.stderr for p in procs]
        said = [p.stdout.split(":")[0] for p in procs]
        assert said.count("added") == 2 and said.count("already in history") == 4, said
        assert _count(db) == 2
        con = sqlite3.connect(db)
        per_run = con.execute("SELECT run_id, COUNT(*) FROM times GROUP BY run_id").fetchall()
        con.close()
        assert len(per_run) == 2 and per_run[0][1] == per_run[1][1] > 0


def test_identity_is_run_id_else_run_directory(tmp_path, demo_run):
    """A run written by the pipeline carries a UUID: a copy of its directory is the same run; runs
    written before run_id existed are told apart by their directory."""
    import json
    import shutil
    import uuid

    run_id = json.loads((demo_run / "manifest.json").read_text())["run_id"]
    assert uuid.UUID(run_id).version == 4
    db = tmp_path / "h.sqlite"
    copy = tmp_path / "copy-of-demo"
    shutil.copytree(demo_run, copy)
    assert cli("history", "add", str(demo_run), "--db", str(db)).stdout.startswith("added")
    assert cli("history", "add", str(copy), "--db", str(db)).stdout.startswith("already in history")
    old = make_run(tmp_path / "old", seed=1)            # no run_id in its manifest
    old_copy = tmp_path / "old-copy"
    shutil.copytree(old, old_copy)
    assert cli("history", "add", str(old), str(old_copy), "--db", str(db)).stdout.count("added:") == 2
    assert cli("history", "add", str(old), "--db", str(db)).stdout.startswith("already in history")
    assert _count(db) == 3


def test_a_version_1_history_is_upgraded(tmp_path):
    """A history written before run identities (unique on created, config hash and commit) is
    rebuilt on first use: its runs are kept and recognised by directory, and same-second runs fit."""
    db = tmp_path / "old.sqlite"
    a = make_run(tmp_path / "a", seed=1)
    b = make_run(tmp_path / "b", seed=2)                 # same created, config and commit as a
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, run_dir TEXT NOT NULL, commit_hash TEXT,
            date TEXT NOT NULL, created TEXT, config_name TEXT, config_hash TEXT, fingerprint TEXT NOT NULL,
            added TEXT NOT NULL, UNIQUE (created, config_hash, commit_hash));
        CREATE TABLE times (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, workload TEXT NOT NULL,
            component TEXT NOT NULL, category TEXT NOT NULL, mean_s REAL NOT NULL, median_s REAL NOT NULL,
            std_s REAL NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (run_id, workload, component, category));""")
    con.execute("INSERT INTO runs VALUES (1, ?, ?, '2026-11-21', '2026-11-21T00:00:00+00:00', 'fake', 'h', '{}', 'x')",
                (str(a.resolve()), "a" * 40))
    con.execute("INSERT INTO times VALUES (1, 'mlp-demo', '(all)', 'total', 0.01, 0.01, 0.001, 20)")
    con.commit()
    con.close()
    assert cli("history", "add", str(a), "--db", str(db)).stdout.startswith("already in history")
    assert cli("history", "add", str(b), "--db", str(db)).stdout.startswith("added")
    assert _count(db) == 2
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == history.VERSION
    assert con.execute("SELECT COUNT(*) FROM times WHERE run_id = 1").fetchone()[0] == 1
    con.close()
    assert cli("history", "show", "--db", str(db), "--plot", "none").returncode == 0


def test_history_show_last_must_be_positive(tmp_path):
    db = tmp_path / "h.sqlite"
    assert cli("history", "add", str(make_run(tmp_path / "r", seed=1)), "--db", str(db)).returncode == 0
    for value in ("-3", "0", "x"):
        line = one_error_line(cli("history", "show", "--db", str(db), "--last", value))
        assert "argument --last: must be" in line


def test_history_flags_a_planted_step_amid_load_drift(tmp_path):
    """Twelve runs whose every time drifts by up to +-25 % from run to run (machine load), with one
    component 2x slower from the eighth run on: `history show` names the eighth run's commit as the
    first of the shift of that component and of its workload, and finds no step in the other workload."""
    from gate_fakes import DEFAULT

    rng = np.random.default_rng(7)
    db = tmp_path / "h.sqlite"
    keys = [(wl, comp, cat) for wl, comps in DEFAULT.items() for comp, (_, cats) in comps.items() for cat in cats]
    runs = []
    for i in range(12):
        drift = float(rng.uniform(0.8, 1.25))
        scale = {k: drift * (2.0 if i >= 7 and k[:2] == ("mlp-demo", "encoder") else 1.0) for k in keys}
        runs.append(make_run(tmp_path / f"r{i}", seed=100 + i, n=4, noise=0.1, scale=scale, commit=f"{i:x}" * 40,
                             created=f"2026-11-{10 + i:02d}T00:00:00+00:00"))
    assert cli("history", "add", *map(str, runs), "--db", str(db)).returncode == 0
    proc = cli("history", "show", "--db", str(db), "--components", "--category", "total", "--plot", "none")
    assert proc.returncode == 0, proc.stderr
    enc = [ln for ln in proc.stdout.splitlines() if ln.split()[:2] == ["mlp-demo", "encoder"]][0]
    assert "77777777 (2026-11-17) +" in enc, enc
    series = history.load_series(db, component=None)
    steps = {(s.workload, s.component): s.steps for s in series if s.category == "total"}
    assert steps[("mlp-demo", "encoder")] == [7]
    assert steps[("toy-b", "net")] == [], steps


def test_a_step_where_the_rules_or_the_tool_changed_says_so(tmp_path):
    """A shift that begins at the run where the rules that classify (or this tool's version)
    changed may be theirs, not the code's: the step says what changed; a step without such a
    change says nothing more."""
    db = tmp_path / "h.sqlite"
    runs = []
    for i in range(8):
        fp = {"nscharacterize": "0.1.0" if i < 5 else "0.2.0", "rules": "aaaaaaaaaaaa" if i < 5 else "bbbbbbbbbbbb"}
        runs.append(make_run(tmp_path / f"r{i}", seed=i, scale={DM: 2.0} if i >= 5 else {}, commit=f"{i:x}" * 40,
                             created=f"2026-11-{10 + i:02d}T00:00:00+00:00", fingerprint=fp))
    assert cli("history", "add", *map(str, runs), "--db", str(db)).returncode == 0
    # the plot into tmp_path: its default (.nscharacterize/trend.png in the working directory) is the checkout here
    out = cli("history", "show", "--db", str(db), "--workload", "mlp-demo", "--plot", str(tmp_path / "trend.png")).stdout
    line = [ln for ln in out.splitlines() if "data_movement" in ln][0]
    assert "55555555" in line and "[nscharacterize 0.1.0 -> 0.2.0, rules changed]" in line, line
    dm = [s for s in history.load_series(db, workload="mlp-demo") if s.category == "data_movement"][0]
    assert dm.steps == [5] and dm.changes == {5: "nscharacterize 0.1.0 -> 0.2.0, rules changed"}
    # The same step where the runs before it record no digest (from before there was one) and the
    # tool's version did not change: what changed is unknown, and nothing is said.
    db2 = tmp_path / "h2.sqlite"
    before = [make_run(tmp_path / f"s{i}", seed=i, scale={DM: 2.0} if i >= 5 else {}, commit=f"{i:x}" * 40,
                       created=f"2026-11-{10 + i:02d}T00:00:00+00:00",
                       fingerprint={"nscharacterize": "0.2.0"} | ({"rules": "bbbbbbbbbbbb"} if i >= 5 else {}))
              for i in range(8)]
    assert cli("history", "add", *map(str, before), "--db", str(db2)).returncode == 0
    dm = [s for s in history.load_series(db2, workload="mlp-demo") if s.category == "data_movement"][0]
    assert dm.steps == [5] and dm.changes == {}
