"""Named baselines: save only the compare files, compare against them, clear errors."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gate_fakes import make_run  # noqa: E402
from test_compare import DM, cli, one_error_line  # noqa: E402

from nscharacterize.gate import baselines  # noqa: E402


def test_save_copies_only_compare_files(tmp_path):
    run = make_run(tmp_path / "run", seed=1)
    (run / "events.parquet").write_bytes(b"big")
    (run / "heatmap.png").write_bytes(b"png")
    store = tmp_path / "store"
    proc = cli("baseline", "save", str(run), "--name", "main", "--store", str(store))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (store / "main").iterdir()) == sorted(baselines.FILES)
    assert cli("baseline", "list", "--store", str(store)).stdout.split() == ["main"]
    # refuses to overwrite without --force
    assert "already exists" in one_error_line(cli("baseline", "save", str(run), "--name", "main", "--store", str(store)))
    assert cli("baseline", "save", str(run), "--name", "main", "--store", str(store), "--force").returncode == 0


def test_compare_against_baseline(tmp_path):
    store = tmp_path / "store"
    baselines.save(make_run(tmp_path / "run", seed=1), "main", store)
    same = make_run(tmp_path / "same", seed=2)
    slow = make_run(tmp_path / "slow", seed=3, scale={DM: 2.0})
    assert cli("compare", "--baseline", "main", str(same), "--store", str(store)).returncode == 0
    proc = cli("compare", "--baseline", "main", str(slow), "--store", str(store))
    assert proc.returncode == 1 and "REGRESSED" in proc.stdout


def test_default_store_is_relative_to_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = make_run(tmp_path / "run", seed=1)
    assert cli("baseline", "save", str(run), "--name", "v1").returncode == 0
    assert (tmp_path / ".nscharacterize" / "baselines" / "v1" / "samples.csv").is_file()
    assert cli("compare", "--baseline", "v1", str(run)).returncode == 0


def test_baseline_errors(tmp_path):
    store = tmp_path / "store"
    baselines.save(make_run(tmp_path / "run", seed=1), "main", store)
    new = make_run(tmp_path / "new", seed=2)
    line = one_error_line(cli("compare", "--baseline", "nope", str(new), "--store", str(store)))
    assert "'nope' not found" in line and "saved: main" in line and "baseline save" in line
    assert "not a valid baseline name" in one_error_line(
        cli("baseline", "save", str(new), "--name", "../x", "--store", str(store)))
    assert "no such run directory" in one_error_line(
        cli("baseline", "save", str(tmp_path / "missing"), "--name", "x", "--store", str(store)))
    (new / "samples.csv").unlink()
    assert "samples.csv" in one_error_line(cli("baseline", "save", str(new), "--name", "x", "--store", str(store)))
    assert not (store / "x").exists()
