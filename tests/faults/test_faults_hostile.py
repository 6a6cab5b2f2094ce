"""Fault injection, hostile sizes and shapes: every size a user or a file can set is bounded, every
reader turns any content into a result or one line with exit 2, and a workload that misbehaves
fails alone. Hostile inputs are generated here, not stored. Each test checks the exit status, the
one line, and what is on disk afterwards."""
from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from clirun import ROOT, SUPPORT, printed_dir, run_cli, write_config
import fault_models
from faults import assert_consistent, cli, one_line, run_dirs, workload_status
from nscharacterize.profiler.spool import SIDECAR
from nscharacterize.rundir import store


def _run(capsys, tmp_path, cfg, *extra):
    return cli(capsys, "run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet", *extra)


def _copy(demo_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(demo_run, copy)
    return copy


def _files(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# ---- YAML: aliases, nesting and huge numbers are bounded where YAML is read ----------------------
def _billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines)


def test_billion_laughs_in_params_is_refused_before_it_expands(capsys, tmp_path):
    cfg = tmp_path / "c.yaml"
    body = _billion_laughs().replace("\n", "\n  ")
    cfg.write_text(f"samples: 1\nlaughs:\n  {body}\nworkloads:\n  - workload: hostile_models:odd_info\n"
                   f"    params: {{bomb: *a8}}\n")
    started = time.perf_counter()
    code, _, err = _run(capsys, tmp_path, cfg)
    one_line(code, err, "c.yaml", "expands to", "more than 200,000")
    assert time.perf_counter() - started < 10
    assert run_dirs(tmp_path / "runs") == []


@pytest.mark.parametrize("text,needles", [
    ("workloads: " + "[" * 10_000 + "]" * 10_000, ["brackets nested deeper"]),
    ("workloads: " + "[" * 100 + "]" * 100, ["nested deeper than 64"]),
    ("workloads:\n" + "".join("  " * i + "- \n" for i in range(200)), ["nested deeper than 64"]),
    ("seed: " + "9" * 5000 + "\nworkloads: [{workload: mlp-demo}]\n", ["unreadable YAML", "digits"]),
    ("\x00\x01\x02workloads: []", ["invalid YAML"]),
], ids=["flow-10k", "flow-100", "block-200", "5000-digits", "control-chars"])
def test_hostile_yaml_is_one_line(capsys, tmp_path, text, needles):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    started = time.perf_counter()
    one_line(*_run(capsys, tmp_path, cfg)[::2], "c.yaml", *needles)
    assert time.perf_counter() - started < 10
    assert run_dirs(tmp_path / "runs") == []


# ---- sizes from the command line and the compare settings ------------------------------------------
def test_samples_on_the_command_line_has_the_configs_bound(capsys, tmp_path):
    cfg = write_config(tmp_path / "c.yaml")
    one_line(*_run(capsys, tmp_path, cfg, "--samples", "10001")[::2], "--samples", "at most 10,000")
    one_line(*_run(capsys, tmp_path, cfg, "--samples", "9" * 5000)[::2], "--samples", "whole number")
    one_line(*cli(capsys, "ab", str(cfg), str(cfg), "--samples", "10001")[::2], "--samples", "at most 10,000")
    assert run_dirs(tmp_path / "runs") == []


@pytest.mark.parametrize("compare,needles", [
    ({"bootstrap_resamples": 10**12}, ["compare.bootstrap_resamples", "less than or equal to 100000"]),
    ({"axes": []}, ["compare.axes", "at least 1"]),
])
def test_compare_settings_are_bounded(capsys, tmp_path, compare, needles):
    cfg = write_config(tmp_path / "c.yaml", compare=compare)
    one_line(*_run(capsys, tmp_path, cfg)[::2], "c.yaml", *needles)
    settings = tmp_path / "s.yaml"
    settings.write_text(yaml.safe_dump({"compare": compare}))
    one_line(*cli(capsys, "compare", "a", "b", "--settings", str(settings))[::2], "s.yaml", *needles)


# ---- sweeps: bounded, distinct point names, checked before any point runs -------------------------------
@pytest.mark.parametrize("sweep,needles", [
    ({"parameters": {"hidden": list(range(1, 151)), "objects": list(range(1, 151))}},
     ["sweep.parameters", "22,500 points", "more than 1,000"]),
    ({"parameters": {"hidden": [4, 4]}}, ["sweep.parameters", "same name 'hidden=4'"]),
    ({"parameters": {"hidden": [4, "4"]}}, ["sweep.parameters", "same name"]),
], ids=["grid", "repeated", "same-text"])
def test_sweep_points_are_bounded_and_distinct(capsys, tmp_path, sweep, needles):
    cfg = write_config(tmp_path / "c.yaml", sweep=sweep)
    started = time.perf_counter()
    one_line(*cli(capsys, "sweep", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")[::2], "c.yaml", *needles)
    assert time.perf_counter() - started < 20
    assert run_dirs(tmp_path / "runs") == []


def test_sweep_names_that_collide_as_folders(capsys, tmp_path):
    cfg = write_config(tmp_path / "c.yaml", workloads=[{"workload": "hostile_models:changes_directory",
                                                        "params": {"to": "."}}],
                       sweep={"parameters": {"to": ["a/b", "a-b"]}})
    one_line(*cli(capsys, "sweep", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")[::2],
             "sweep.parameters", "same name 'to=a-b'")


def test_a_long_sweep_name_works_for_its_points(tmp_path):
    """A valid 94-character name: the points' run names are shortened to fit, and every point runs."""
    cfg = write_config(tmp_path / "c.yaml", name="s" * 94, samples=1, warmup=0, repeats=1,
                       workloads=[{"workload": "fault_models:slow", "params": {"pause": 0.01}}],
                       sweep={"parameters": {"pause": [0.01]}})
    proc = run_cli("sweep", str(cfg), "--out", str(tmp_path / "runs"), "--quiet", timeout=600)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    sweep_dir = printed_dir(proc)
    (point,) = json.loads((sweep_dir / "sweep.json").read_text())["points"]
    assert point["status"] == "ok", point
    assert (sweep_dir / "points" / "pause=0.01" / "samples.csv").is_file()


def test_a_point_past_its_timeout_is_stopped_and_says_why(tmp_path):
    """A point that runs past point_timeout_s is stopped (what it measured is kept), recorded failed
    with the reason and not retried; its own manifest says interrupted and why, never running. Only
    the hanging point is timed, so how fast a point starts on a loaded machine cannot change it."""
    cfg = write_config(tmp_path / "c.yaml", samples=2, warmup=0, repeats=1,
                       workloads=[{"workload": "fault_models:slow", "params": {"pause": 0.01}}],
                       sweep={"parameters": {"pause": [600]}, "point_timeout_s": 60})
    proc = run_cli("sweep", str(cfg), "--out", str(tmp_path / "runs"), "--quiet", timeout=600)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    sweep_dir = printed_dir(proc)
    (point,) = json.loads((sweep_dir / "sweep.json").read_text())["points"]
    assert point["status"] == "failed" and point["attempts"] == 1, point
    assert "point_timeout_s (60 s)" in point["error"]
    if point["run_dir"]:   # none when a very loaded machine took 60 s to start the point's run
        own = assert_consistent(sweep_dir / point["run_dir"], "interrupted")
        assert "point_timeout_s (60 s)" in own["error"] and "SIGTERM" in own["error"], own["error"]
        assert {w["status"] for w in own["workloads"]} == {"interrupted"}, own["workloads"]


# ---- hostile run directories: report reads regular files only, and says one line for the rest ---------
@pytest.mark.timeout(300)
def test_a_pipe_or_folder_named_like_a_table_does_not_block_report(capsys, demo_run, tmp_path):
    run = _copy(demo_run, tmp_path)
    os.mkfifo(run / "extra.csv")
    (run / "folder.csv").mkdir()
    os.mkfifo(run / "extra.png")
    code, _, err = cli(capsys, "report", str(run))
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(run / "extra.csv").st_mode) and (run / "folder.csv").is_dir()


def _manifest_text(run: Path, edit) -> None:
    (run / "manifest.json").write_text(edit((run / "manifest.json").read_text()))


MANIFESTS = {
    "deep": (lambda t: t[:-2] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n", ["manifest.json", "nested too deeply"]),
    "huge_int": (lambda t: t[:-2] + ', "x": ' + "9" * 5000 + "}\n", ["manifest.json", "digits"]),
    "not_json": (lambda t: "\x00" * 30, ["manifest.json", "corrupt JSON"]),
}


@pytest.mark.parametrize("how", sorted(MANIFESTS))
def test_damaged_manifest_is_one_line(capsys, demo_run, tmp_path, how):
    run = _copy(demo_run, tmp_path)
    edit, needles = MANIFESTS[how]
    _manifest_text(run, edit.__call__)
    before = _files(run)
    one_line(*cli(capsys, "report", str(run))[::2], *needles)
    assert _files(run) == before


def test_a_pid_that_cannot_exist_is_a_dead_writer(capsys, demo_run, tmp_path):
    run = _copy(demo_run, tmp_path)
    data = json.loads((run / "manifest.json").read_text())
    data.update(status="running", pid=2**40, host=socket.gethostname())
    (run / "manifest.json").write_text(json.dumps(data))
    code, _, err = cli(capsys, "report", str(run))
    assert code == 0 and "marked killed" in err, err
    assert json.loads((run / "manifest.json").read_text())["status"] == "killed"


def test_random_bytes_as_config_yaml(capsys, demo_run, tmp_path):
    import random

    rng = random.Random(25)
    for i in range(5):
        run = _copy(demo_run, tmp_path / str(i))
        text = "".join(chr(rng.randrange(1, 0x2FF)) for _ in range(400))
        (run / "config.yaml").write_text(text, encoding="utf-8")
        one_line(*cli(capsys, "report", str(run), "--reclassify")[::2], "config.yaml")
        (run / "config.yaml").write_bytes(rng.randbytes(400))
        one_line(*cli(capsys, "report", str(run), "--reclassify")[::2], "config.yaml")


def test_taxonomy_that_is_a_string(capsys, demo_run, tmp_path):
    run = _copy(demo_run, tmp_path)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["taxonomy"] = "rules.yaml"
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    data = json.loads((run / "manifest.json").read_text())
    data.pop("config_hash")
    (run / "manifest.json").write_text(json.dumps(data))
    one_line(*cli(capsys, "report", str(run), "--reclassify")[::2], "config.yaml", "taxonomy")


# ---- sweep.json from someone else ---------------------------------------------------------------------
def _sweep_dir(tmp_path: Path, **edit) -> Path:
    path = tmp_path / "s-sweep"
    (path / "points").mkdir(parents=True)
    data = {"schema": 1, "kind": "sweep", "name": "s", "parameters": {"hidden": [4]}, "mode": "grid",
            "x": "hidden", "status": "ok", "points": [{"name": "hidden=4", "params": {"hidden": 4},
                                                       "status": "pending", "run_dir": None, "attempts": 0}]}
    data.update(edit)
    (path / "sweep.json").write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("edit,needles", [
    ({"x": None}, ["sweep.json", "x"]),
    ({"parameters": "hidden"}, ["sweep.json", "parameters"]),
    ({"points": [{"name": "p", "params": {}, "status": "ok", "run_dir": "../../etc"}]},
     ["sweep.json", "points.0.run_dir"]),
    ({"points": [{"name": 5, "params": {}, "status": "ok"}]}, ["sweep.json", "points.0.name"]),
    ({"points": [{"params": {}, "status": "ok"}]}, ["sweep.json", "points.0.name", "missing"]),
], ids=["x-missing", "parameters-text", "run-dir-escapes", "name-number", "name-missing"])
def test_damaged_sweep_json_is_one_line(capsys, tmp_path, edit, needles):
    path = _sweep_dir(tmp_path, **edit)
    before = _files(path)
    one_line(*cli(capsys, "report", str(path))[::2], *needles)
    assert _files(path) == before


def test_a_sound_sweep_json_reports(capsys, tmp_path):
    path = _sweep_dir(tmp_path)
    code, _, err = cli(capsys, "report", str(path))
    assert code == 0, err
    assert (path / "report.html").is_file()


# ---- the gate's inputs -----------------------------------------------------------------------------------
def test_ab_out_that_is_a_file(capsys, tmp_path):
    out = tmp_path / "file"
    out.write_text("kept")
    cfg = write_config(tmp_path / "c.yaml")
    one_line(*cli(capsys, "ab", str(cfg), str(cfg), "--out", str(out))[::2], "--out", "is a file")
    assert out.read_text() == "kept"


def test_baseline_names_and_symlinked_baselines(capsys, demo_run, tmp_path):
    store = tmp_path / "store"
    one_line(*cli(capsys, "baseline", "save", str(demo_run), "--name", "main\n", "--store", str(store))[::2],
             "--name", "not a valid baseline name")
    assert not store.exists() or not any(store.iterdir())
    assert cli(capsys, "baseline", "save", str(demo_run), "--name", "real", "--store", str(store))[0] == 0
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(store / "real", elsewhere)
    (store / "linked").symlink_to(elsewhere, target_is_directory=True)
    code, out, err = cli(capsys, "baseline", "rm", "linked", "--store", str(store))
    assert code == 0, err
    assert not (store / "linked").exists() and (elsewhere / "manifest.json").is_file()


def test_a_run_still_being_written_is_no_baseline_and_no_history(capsys, demo_run, tmp_path):
    from nscharacterize.rundir.store import process_identity

    run = _copy(demo_run, tmp_path)
    data = json.loads((run / "manifest.json").read_text())
    data.update(status="running", **process_identity())   # this very process: alive
    (run / "manifest.json").write_text(json.dumps(data))
    one_line(*cli(capsys, "history", "add", str(run), "--db", str(tmp_path / "h.sqlite"))[::2],
             "manifest.json: status", "still being written")
    one_line(*cli(capsys, "baseline", "save", str(run), "--name", "b", "--store", str(tmp_path / "store"))[::2],
             "manifest.json: status", "still being written")
    assert not (tmp_path / "store" / "b").exists()


def test_taxonomy_rules_into_head_is_not_a_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(SUPPORT)])}
    proc = subprocess.run(f"{sys.executable} -m nscharacterize.cli taxonomy --rules | head -1", shell=True,
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
                          executable="/bin/bash")
    assert proc.stdout.startswith("# ops:"), proc.stdout
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


# ---- rule files -------------------------------------------------------------------------------------------
def test_rule_file_under_the_wrong_name_space_is_an_error(capsys, tmp_path):
    rules = tmp_path / "mine.yaml"
    rules.write_text("namespace: kernels\nrules:\n  - {match: 'x', category: not_a_category, reason: r}\n")
    cfg = write_config(tmp_path / "c.yaml", taxonomy={"rules": {"ops": [str(rules)]}})
    one_line(*_run(capsys, tmp_path, cfg)[::2], "mine.yaml: namespace", "'kernels'", "taxonomy.rules.kernels")
    assert run_dirs(tmp_path / "runs") == []


# ---- workloads that misbehave fail alone -----------------------------------------------------------------
def test_workloads_that_break_the_run_itself_fail_alone(capsys, tmp_path):
    entries = [{"workload": "hostile_models:raises_base", "name": "gen-exit"},
               {"workload": "hostile_models:raises_base", "name": "custom", "params": {"kind": "custom"}},
               {"workload": "hostile_models:unsaveable_info", "name": "cycle"},
               {"workload": "hostile_models:too_few_samples", "name": "few"},
               {"workload": "hostile_models:odd_info", "name": "odd"},
               {"workload": "mlp-demo", "name": "demo", "params": {"objects": 4, "hidden": 8}}]
    cfg = write_config(tmp_path / "c.yaml", workloads=entries)
    code, out, err = _run(capsys, tmp_path, cfg)
    assert code == 1, err
    (run,) = run_dirs(tmp_path / "runs")
    manifest = assert_consistent(run, "partial")
    assert workload_status(manifest) == {"gen-exit": "error", "custom": "error", "cycle": "error", "few": "error",
                                         "odd": "ok", "demo": "ok"}
    errors = {w["name"]: w["error"] for w in manifest["workloads"]}
    assert errors["gen-exit"].startswith("GeneratorExit") and errors["custom"].startswith("Custom")
    assert "info cannot be saved as JSON" in errors["cycle"] and "returned 1 samples" in errors["few"]
    odd = next(w for w in manifest["workloads"] if w["name"] == "odd")
    assert odd["info"]["n"] == 3 and odd["info"]["path"].startswith("<object object")


def test_a_workload_that_changes_directory_keeps_a_relative_out(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cfg = write_config(tmp_path / "c.yaml", samples=2,
                       workloads=[{"workload": "hostile_models:changes_directory", "params": {"to": str(elsewhere)}},
                                  {"workload": "hostile_models:closes_stdout"}])
    proc = run_cli("run", str(cfg), "--out", "rel-runs", "--quiet", cwd=tmp_path, timeout=400)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    (run,) = run_dirs(tmp_path / "rel-runs")
    assert printed_dir(proc) == run
    assert not (elsewhere / "rel-runs").exists()
    assert assert_consistent(run, "ok")["status"] == "ok"


def test_report_on_a_folder_it_cannot_write(capsys, demo_run, tmp_path, monkeypatch):
    """An immutable run directory (chattr +i; root ignores plain permissions): one line, nothing changed."""
    import errno
    import tempfile

    run = _copy(demo_run, tmp_path)
    before = _files(run)

    def refused(*args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    one_line(*cli(capsys, "report", str(run))[::2], str(run), "cannot write into this folder", "a copy")
    assert _files(run) == before


def test_a_5000_deep_trace_costs_linear_memory(tmp_path):
    """Nesting is rebuilt with a stack; the ancestors column keeps the innermost MAX_ANCESTORS ops, so
    a hostile 5,000-deep trace gives 5,000 rows of bounded size, not 5,000 rows of 5,000 names."""
    from nscharacterize.profiler import chrome_trace, trace_events

    n = 5000
    events = [{"ph": "X", "cat": "cpu_op", "name": f"aten::op{i % 7}", "ts": i, "dur": 2 * n - 2 * i, "tid": 1}
              for i in range(n)]
    path = tmp_path / "deep.json"
    path.write_text(json.dumps({"traceEvents": events}))
    trace = chrome_trace.load(path)
    table, _ = trace_events.rows(trace, "cpu")
    depth = table["ancestors"].str.count(">") + (table["ancestors"] != "")
    assert len(table) == n and depth.max() == chrome_trace.MAX_ANCESTORS
    assert table["ancestors"].str.len().sum() < n * chrome_trace.MAX_ANCESTORS * 10
    assert (trace.host["parent"].iloc[1:] >= 0).all()   # the nesting itself is whole
    innermost = table["ancestors"].iloc[-1].split(">")
    assert innermost[-1] == f"aten::op{(n - 2) % 7}"     # the innermost ancestors are the ones kept


def _is_point(proc: Path) -> bool:
    """A point's CLI process, not another short-lived child of the driver (torch's import runs
    helpers such as ldconfig, which come and go)."""
    try:
        return b"nscharacterize.cli\0run\0" in (proc / "cmdline").read_bytes()
    except OSError:
        return False


def test_a_stopped_sweep_driver_stops_its_point_and_leaves_none_pending(tmp_path):
    import signal

    cfg = write_config(tmp_path / "c.yaml", samples=1, warmup=0, repeats=1,
                       workloads=[{"workload": "fault_models:slow", "params": {"pause": 0.01}}],
                       sweep={"parameters": {"pause": [600, 0.01]}})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")])}
    driver = subprocess.Popen([sys.executable, "-m", "nscharacterize.cli", "sweep", str(cfg), "--out",
                               str(tmp_path / "runs"), "--quiet"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def children() -> list[int]:
        found = []
        for stat_file in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat_file.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == driver.pid and _is_point(stat_file.parent):
                found.append(int(stat_file.parent.name))
        return found

    deadline = time.monotonic() + 300
    while not children() and time.monotonic() < deadline:   # the first point's process has started
        time.sleep(0.5)
    point = children()
    assert point, "the sweep never started its point"
    time.sleep(2)
    driver.send_signal(signal.SIGTERM)
    _, err = driver.communicate(timeout=300)
    assert driver.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    assert not Path(f"/proc/{point[0]}").exists(), "the point's process outlived its driver"
    (sweep_dir,) = run_dirs(tmp_path / "runs")
    manifest = json.loads((sweep_dir / "sweep.json").read_text())
    assert manifest["status"] == "interrupted"
    assert {p["status"] for p in manifest["points"]} == {"interrupted"}, manifest["points"]


def _point_manifests(tmp: Path) -> list[dict]:
    found = []
    for path in tmp.glob("nsc-point-*/out/*/manifest.json"):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):   # being replaced right now
            pass
    return found


def _finished_samples(tmp: Path) -> int:
    """Samples the sweep's points have finished: parsed (the manifest's samples_done) or spooled
    (a sidecar, written last and atomically)."""
    parsed = sum(w.get("samples_done") or 0 for m in _point_manifests(tmp) for w in m.get("workloads", []))
    return parsed + len(list(tmp.glob(f"nsc-point-*/out/*/{store.SPOOL}/*{SIDECAR}")))


def test_a_point_that_will_not_stop_is_recorded_interrupted_with_what_it_measured(tmp_path):
    """The driver is stopped while its point hangs with SIGTERM ignored: the point is killed after
    the grace period, and its own manifest (which its process could not write) says interrupted
    and why, its tables are rebuilt from every saved sample, and the sweep keeps its run directory."""
    import signal

    from nscharacterize import sweep as sweep_module

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    cfg = write_config(tmp_path / "c.yaml", samples=3, warmup=0, repeats=1,
                       workloads=[{"workload": "fault_models:ignores_sigterm", "params": {"pause": 600}}],
                       sweep={"parameters": {"pause": [600, 0.01]}})
    hanging = tmp_path / "hanging"
    env = {**os.environ, "TMPDIR": str(tmp), fault_models.HANGING: str(hanging),
           "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")])}
    driver = subprocess.Popen([sys.executable, "-m", "nscharacterize.cli", "sweep", str(cfg), "--out",
                               str(tmp_path / "runs"), "--quiet"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Until the point has finished its first sample and hangs in the second, SIGTERM ignored (the
    # workload then creates the HANGING file). A finished sample is first its sidecar in the run's
    # spool (profiler/spool.py): the manifest's samples_done counts it only once its batch is
    # parsed, which the hang postpones past this test's patience.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and driver.poll() is None and not hanging.exists():
        time.sleep(0.2)
    assert hanging.exists() and _finished_samples(tmp), "the point never finished its first sample"
    assert driver.poll() is None, driver.communicate()
    assert [m["status"] for m in _point_manifests(tmp)] == ["running"]
    driver.send_signal(signal.SIGTERM)
    _, err = driver.communicate(timeout=sweep_module.STOP_GRACE_S + 400)
    assert driver.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    (sweep_dir,) = run_dirs(tmp_path / "runs")
    points = {p["name"]: p for p in json.loads((sweep_dir / "sweep.json").read_text())["points"]}
    assert {p["status"] for p in points.values()} == {"interrupted"}, points
    assert points["pause=600"]["run_dir"] == "points/pause=600" and points["pause=0.01"]["run_dir"] is None
    own = assert_consistent(sweep_dir / "points" / "pause=600", "interrupted")
    assert "the sweep was stopped while this point ran" in own["error"], own["error"]
    assert f"did not stop within {sweep_module.STOP_GRACE_S} s of SIGTERM" in own["error"], own["error"]
    (workload,) = own["workloads"]
    assert workload["status"] == "interrupted" and workload["samples_done"] >= 1, workload
    assert "the sweep was stopped" in workload["error"]
    assert not (sweep_dir / "points" / "pause=600" / "timings.arrows").exists()   # compacted into the tables


def test_a_point_whose_process_dies_is_not_left_running(tmp_path):
    """A point's process that dies outright (os._exit: no handler runs, as with the OOM killer) is
    retried, then recorded failed in sweep.json; its own manifest says killed and why, and its
    tables hold every sample it saved."""
    cfg = write_config(tmp_path / "c.yaml", samples=3, warmup=0, repeats=1,
                       workloads=[{"workload": "fault_models:hard_exit", "params": {"at": 1}}],
                       sweep={"parameters": {"code": [7]}})
    proc = run_cli("sweep", str(cfg), "--out", str(tmp_path / "runs"), "--quiet", timeout=600)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    sweep_dir = printed_dir(proc)
    (point,) = json.loads((sweep_dir / "sweep.json").read_text())["points"]
    assert point["status"] == "failed" and point["attempts"] == 2 and point["run_dir"] == "points/code=7", point
    own = assert_consistent(sweep_dir / point["run_dir"], "killed")
    assert "exit status 7" in own["error"], own["error"]
    (workload,) = own["workloads"]
    assert workload["status"] == "killed" and workload["samples_done"] == 1, workload
