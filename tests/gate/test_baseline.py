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


def test_save_refuses_a_garbage_manifest(tmp_path):
    """A baseline whose manifest compare cannot use is refused when saved, not when compared."""
    store = tmp_path / "store"
    for i, text in enumerate(['{"schema": 1, "fingerprint": "garbage", "workloads": 7}', '{"schema": 1}',
                              '[1, 2, 3]', "\x00\x01 not json"]):
        run = make_run(tmp_path / f"run{i}", seed=1)
        (run / "manifest.json").write_text(text)
        line = one_error_line(cli("baseline", "save", str(run), "--name", "x", "--store", str(store)))
        assert f"{run / 'manifest.json'}: " in line
        assert not (store / "x").exists()


def test_concurrent_saves_keep_one_whole_baseline(tmp_path):
    """Real concurrent `baseline save` processes: without --force one wins and the others are refused;
    with --force each replaces the baseline whole (its files all from one run) and no temp is left."""
    from gate_fakes import concurrent_cli

    store = tmp_path / "store"
    runs = [make_run(tmp_path / f"run{i}", seed=i, n=5 + i) for i in range(4)]
    procs = concurrent_cli([("baseline", "save", str(r), "--name", "main", "--store", str(store)) for r in runs],
                           tmp_path)
    assert sorted(p.returncode for p in procs) == [0, 2, 2, 2], [p.stderr for p in procs]
    for p in procs:
        if p.returncode:
            assert "already exists" in one_error_line(p)
    procs = concurrent_cli([("baseline", "save", str(r), "--name", "main", "--store", str(store), "--force")
                            for r in runs], tmp_path)
    assert [p.returncode for p in procs] == [0] * 4, [p.stderr for p in procs]
    saved = store / "main"
    origin = [r for r in runs if (r / "manifest.json").read_bytes() == (saved / "manifest.json").read_bytes()]
    assert len(origin) == 1
    for f in baselines.FILES:
        assert (saved / f).read_bytes() == (origin[0] / f).read_bytes(), f
    assert sorted(p.name for p in store.iterdir()) == [".lock", "main"]
