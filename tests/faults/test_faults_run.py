"""Fault injection, during a run: workloads that exit or raise, a hung classifier, signals at
random points (real CLI subprocesses), a process killed outright, and concurrent writers. Every
case checks the exit status, the one line printed, and the run directory left behind."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from clirun import ROOT, SUPPORT, write_config
from faults import assert_consistent, cli, one_line, run_dirs, workload_status
from nscharacterize import pipeline
from nscharacterize.profiler.torch_compat import events_are_lazy
from nscharacterize.rundir.store import RunDir

DEMO = {"workload": "mlp-demo", "params": {"objects": 6, "hidden": 16}, "samples": 1}


def _config(tmp_path: Path, *workloads, **fields) -> Path:
    fields.setdefault("samples", 2)
    fields.setdefault("repeats", 1)
    fields.setdefault("warmup", 0)
    return write_config(tmp_path / "c.yaml", workloads=list(workloads), **fields)


def _run(capsys, tmp_path, cfg):
    code, out, err = cli(capsys, "run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")
    dirs = run_dirs(tmp_path / "runs")
    return code, err, dirs[0] if dirs else None


# ---- exits and exceptions inside workloads (in process: the run must survive them) --------------------
FAILING = [
    ("fault_models:exits", {"code": 3, "at": 1}, "sys.exit(3)", 1),
    ("fault_models:exits", {"code": 0, "at": 0}, "sys.exit(0)", 0),
    ("fault_models:exits", {"code": "bye", "at": 1}, "sys.exit('bye')", 1),
    ("fault_models:raises", {"at": 1}, "RuntimeError: planted failure on sample 1", 1),
    ("fault_models:factory_exits", {"code": 3}, "sys.exit(3)", 0),
    ("fault_models:returns_nonsense", {}, "returned int", 0),
]


@pytest.mark.parametrize("ref,params,error,done", FAILING, ids=[f"{r}-{p}" for r, p, _, _ in FAILING])
def test_failing_workload_fails_alone(capsys, tmp_path, ref, params, error, done):
    cfg = _config(tmp_path, {"workload": ref, "name": "bad", "params": params}, DEMO)
    code, err, run = _run(capsys, tmp_path, cfg)
    assert code == 1, err
    manifest = assert_consistent(run, "partial")
    assert workload_status(manifest) == {"bad": "error", "mlp-demo": "ok"}
    bad = manifest["workloads"][0]
    assert error in bad["error"] and bad["samples_done"] == done
    assert "workload bad failed" in (run / "run.log").read_text()
    assert "## Failed workloads" in (run / "table.md").read_text()
    assert cli(capsys, "report", str(run))[0] == 0


def test_every_workload_failing_is_status_failed(capsys, tmp_path):
    cfg = _config(tmp_path, {"workload": "fault_models:exits", "params": {"at": 0}})
    code, err, run = _run(capsys, tmp_path, cfg)
    assert code == 1
    assert workload_status(assert_consistent(run, "failed")) == {"fault_models:exits": "error"}


def test_hung_classifier_is_stopped_with_one_line(capsys, tmp_path):
    """A pattern the static check lets through (overlapping alternatives) but that backtracks
    exponentially on the demo's Python function names: the CPU-time bound names the rule."""
    rules = tmp_path / "slow_rules.yaml"
    rules.write_text(yaml.safe_dump({"namespace": "python", "rules": [
        {"id": "hangs", "match": "(.|\\w)*QQ", "category": "other", "reason": "planted"}]}))
    cfg = _config(tmp_path, DEMO, {"workload": "mlp-demo", "name": "second"}, samples=2,
                  taxonomy={"rules": {"python": [str(rules)]}})
    code, err, run = _run(capsys, tmp_path, cfg)
    one_line(code, err, "slow_rules.yaml", "rule hangs", "catastrophic backtracking")
    manifest = assert_consistent(run, "failed")
    assert workload_status(manifest) == {"mlp-demo": "error", "second": "not_run"}
    assert "catastrophic" in manifest["error"]
    assert cli(capsys, "report", str(run))[0] == 0


def test_samples_are_saved_as_they_finish(capsys, tmp_path, monkeypatch):
    """While a workload runs, each finished sample is on disk before the next one starts (its
    traces in the spool), and each parsed batch is in the logs with ``samples_done`` before the
    loop goes on; batches hold every sample once, in order."""
    from nscharacterize.profiler import session, spool as spool_module

    monkeypatch.setattr(session, "BATCH_SECONDS", 0.0)   # parse after every sample, then again in batches
    seen, spooled = [], []
    real = pipeline.profile_workload
    real_pass = session._spooled_pass

    def spy_pass(*args, **kwargs):
        side = real_pass(*args, **kwargs)
        spooled.append(side.is_file())
        return side

    def spy(workload, label, settings, on_sample=None, spool=None):
        def check(index, events, timings):
            on_sample(index, events, timings)
            run = RunDir(run_dirs(tmp_path / "runs")[0])
            seen.append((index, set(run.timings()["sample"]), set(run.events()["sample"]),
                         run.manifest["workloads"][-1]["samples_done"]))
        assert isinstance(spool, spool_module.Spool)
        return real(workload, label, settings, on_sample=check, spool=spool)

    monkeypatch.setattr("nscharacterize.pipeline.profile_workload", spy)
    monkeypatch.setattr(session, "_spooled_pass", spy_pass)
    code, err, run = _run(capsys, tmp_path, _config(tmp_path, dict(DEMO, samples=3)))
    assert code == 0, err
    # torch < 2.4 builds every event object when a profile stops: each sample is parsed as it ends
    # instead of spooled (session._spool_usable), and saved as it finishes all the same
    assert spooled == ([True] * 3 if events_are_lazy() else [])
    assert seen == [(i, set(range(i + 1)), set(range(i + 1)), i + 1) for i in range(3)]
    assert not (run / "spool").exists()
    if not events_are_lazy():   # no spool, so no batches to check
        return

    monkeypatch.setattr(session, "BATCH_SECONDS", 3600.0)   # one batch: the same rows, saved once
    seen.clear()
    code, err, run = _run(capsys, tmp_path, _config(tmp_path, dict(DEMO, samples=3)))
    assert code == 0, err
    assert seen == [(2, {0, 1, 2}, {0, 1, 2}, 3)]


def test_samples_held_compactly_give_the_tables_a_fresh_derivation_gives(capsys, tmp_path, monkeypatch):
    """The run holds each attributed batch with its text columns as categoricals until its end
    (pipeline._compact, issue 23): batches of other workloads have other categories, and the
    joined frame must be what attributing everything at once gives, dtypes included."""
    from nscharacterize.profiler import session
    from nscharacterize.results import reclassify
    from nscharacterize.taxonomy.classifier import Taxonomy

    monkeypatch.setattr(session, "BATCH_SECONDS", 0.0)             # a batch per sample
    monkeypatch.setattr(pipeline._Run, "ATTRIBUTE_ROWS", 1)        # attributed one batch at a time
    code, err, run = _run(capsys, tmp_path, _config(tmp_path, dict(DEMO, samples=3),
                                                    {"workload": "nlm-sort", "params": {"n": 4}, "samples": 2}))
    assert code == 0, err
    saved = RunDir(run)
    samples, breakdown, checks = saved.samples(), saved.breakdown(), saved.checks()
    assert set(samples["workload"]) == {"mlp-demo", "nlm-sort"}
    reclassify(saved, Taxonomy())          # rewrites the tables from events and timings, in one go

    def rows(frame: pd.DataFrame) -> pd.DataFrame:   # the row order is the batches' (not a contract)
        keys = [c for c in ("workload", "component", "axis", "category", "sample") if c in frame.columns]
        return frame.sort_values(keys, kind="stable").reset_index(drop=True)
    for name, before in (("samples", samples), ("breakdown", breakdown), ("checks", checks)):
        pd.testing.assert_frame_equal(rows(getattr(RunDir(run), name)()), rows(before), rtol=1e-9, obj=name)


def test_a_stop_while_a_saved_batch_is_handed_over_saves_it_once(capsys, tmp_path, monkeypatch):
    """Ctrl-C arriving after a batch is in the logs but before the loop goes on (while the tables
    are refreshed, say): the loop's ``finally`` hands over what is still waiting, never that batch
    again; every sample is saved once and the run is interrupted, not broken."""
    from nscharacterize.profiler import session

    monkeypatch.setattr(session, "BATCH_SECONDS", 0.0)   # a batch per sample
    real = pipeline.profile_workload

    def spy(workload, label, settings, on_sample=None, spool=None):
        def stop_after_saving(index, events, timings):
            on_sample(index, events, timings)
            raise KeyboardInterrupt
        return real(workload, label, settings, on_sample=stop_after_saving, spool=spool)

    monkeypatch.setattr("nscharacterize.pipeline.profile_workload", spy)
    code, err, run = _run(capsys, tmp_path, _config(tmp_path, dict(DEMO, samples=3)))
    assert code == 130, err
    saved = RunDir(run)
    timings, events = saved.timings(), saved.events()
    assert set(timings["sample"]) == {0} and not timings.duplicated(["workload", "component", "sample"]).any()
    assert set(events["sample"]) == {0}
    assert saved.manifest["workloads"][0]["status"] == "interrupted"
    assert saved.manifest["workloads"][0]["samples_done"] == 1


@pytest.mark.parametrize("refresh_s", [0.0, 3600.0])
def test_a_workloads_samples_reach_the_tables_while_it_runs_when_a_refresh_is_due(capsys, tmp_path, monkeypatch,
                                                                                  refresh_s):
    """A refresh is due once REFRESH_S has passed: then the derived tables hold every sample saved
    so far, mid-workload; until then they hold none of the running workload's (the logs do)."""
    from nscharacterize.profiler import session

    monkeypatch.setattr(session, "BATCH_SECONDS", 0.0)   # a batch per sample
    monkeypatch.setattr(pipeline._Run, "REFRESH_S", refresh_s)
    monkeypatch.setattr(pipeline._Run, "REFRESH_COST_FACTOR", 0.0)
    seen = []
    real = pipeline.profile_workload

    def spy(workload, label, settings, on_sample=None, spool=None):
        def check(index, events, timings):
            on_sample(index, events, timings)
            run = RunDir(run_dirs(tmp_path / "runs")[0])
            seen.append((set(run.samples()["sample"]), set(run.timings()["sample"])))
        return real(workload, label, settings, on_sample=check, spool=spool)

    monkeypatch.setattr("nscharacterize.pipeline.profile_workload", spy)
    code, err, run = _run(capsys, tmp_path, _config(tmp_path, dict(DEMO, samples=3)))
    assert code == 0, err
    assert [logged for _tables, logged in seen] == [set(range(i + 1)) for i in range(3)]
    assert [tables for tables, _logged in seen] == ([set(range(i + 1)) for i in range(3)] if refresh_s == 0
                                                    else [set()] * 3)
    assert set(RunDir(run).samples()["sample"]) == {0, 1, 2}    # the end refreshes whatever is due


@pytest.mark.parametrize("refresh_s", [0.0, 3600.0])
def test_tables_as_the_run_goes_figures_once_at_the_end(capsys, tmp_path, monkeypatch, refresh_s):
    """table.md holds a finished workload once a refresh is due (at once with REFRESH_S 0; with
    an hour, only at the end: refreshing after every workload was a tenth of a ci.yaml run); the
    figures and report.html are drawn once, by the end of the run (drawing them after every
    workload was most of the tool's time)."""
    from nscharacterize.reports import run_report as render_module

    monkeypatch.setattr(pipeline._Run, "REFRESH_S", refresh_s)
    monkeypatch.setattr(pipeline._Run, "REFRESH_COST_FACTOR", 0.0)
    seen = []
    real = pipeline.profile_workload

    def spy(workload, label, settings, on_sample=None, spool=None):
        run = run_dirs(tmp_path / "runs")[0]
        seen.append((label, (run / "table.md").read_text(), (run / "roofline.csv").exists(),
                     (run / "report.html").exists()))
        return real(workload, label, settings, on_sample=on_sample, spool=spool)

    monkeypatch.setattr("nscharacterize.pipeline.profile_workload", spy)
    code, err, run = _run(capsys, tmp_path, _config(tmp_path, DEMO, dict(DEMO, name="second")))
    assert code == 0, err
    (label0, table0, heat0, page0), (label1, table1, heat1, page1) = seen
    assert label1 == "second" and ("mlp-demo" in table1) == (refresh_s == 0.0)
    assert render_module.IN_PROGRESS in table1 or refresh_s > 0
    assert not (heat0 or heat1 or page0 or page1)
    final = (run / "table.md").read_text()
    assert render_module.IN_PROGRESS not in final and "## Roofline" in final and "second" in final
    assert (run / "roofline.csv").is_file() and (run / "report.html").is_file()


# ---- signals at random points, in real CLI processes ------------------------------------------------
def _start(tmp_path: Path, cfg: Path) -> subprocess.Popen:
    # faulthandler: a native crash of the process prints where it happened into the stderr a test checks
    env = dict(os.environ, PYTHONPATH=str(SUPPORT), COLUMNS="160", PYTHONFAULTHANDLER="1")
    return subprocess.Popen([sys.executable, "-m", "nscharacterize.cli", "run", str(cfg), "--out",
                             str(tmp_path / "runs"), "--quiet"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_samples(tmp_path: Path, proc: subprocess.Popen, n: int) -> Path:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        dirs = run_dirs(tmp_path / "runs")
        if dirs and (dirs[0] / "manifest.json").is_file():
            m = json.loads((dirs[0] / "manifest.json").read_text())
            if sum(w.get("samples_done", 0) for w in m["workloads"]) >= n:
                return dirs[0]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the run never got going")


def _slow_config(tmp_path: Path) -> Path:
    return _config(tmp_path, {"workload": "fault_models:slow", "name": "slow", "params": {"pause": 0.1}},
                   DEMO, samples=25)


@pytest.mark.parametrize("signum,seed", [(signal.SIGINT, 2), (signal.SIGTERM, 3), (signal.SIGHUP, 5)])
def test_signal_at_a_random_point_stops_in_order(capsys, tmp_path, signum, seed):
    rng = random.Random(seed)
    proc = _start(tmp_path, _slow_config(tmp_path))
    run = _wait_for_samples(tmp_path, proc, rng.randint(0, 3))
    code, out, err = cli(capsys, "report", str(run))  # a reader while the run writes: fine
    assert code == 0 and "still being written" in err, err
    time.sleep(rng.uniform(0, 0.8))
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    one_line(proc.returncode, err, f"stopped by {signal.Signals(signum).name}", str(run), status=128 + signum)
    manifest = assert_consistent(run, "interrupted")
    status = workload_status(manifest)  # a signal may land before the first workload starts
    assert status["mlp-demo"] == "not_run" and status["slow"] in ("interrupted", "not_run"), status
    assert manifest["workloads"][0]["samples_done"] < 25
    assert signal.Signals(signum).name in manifest["error"]
    assert (run / "report.html").is_file() and not (run / "spool").exists()   # the page, at the stop itself
    assert cli(capsys, "report", str(run))[0] == 0


@pytest.mark.parametrize("how", ["SIGKILL", "os._exit"])
def test_process_killed_outright_is_reported_killed(capsys, tmp_path, how):
    if how == "SIGKILL":
        proc = _start(tmp_path, _slow_config(tmp_path))
        run = _wait_for_samples(tmp_path, proc, random.Random(7).randint(1, 3))
        proc.kill()
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
    else:
        cfg = _config(tmp_path, {"workload": "fault_models:hard_exit", "name": "dies", "params": {"at": 2}}, DEMO, samples=3)
        proc = _start(tmp_path, cfg)
        proc.communicate(timeout=300)
        assert proc.returncode == 7
        run = run_dirs(tmp_path / "runs")[0]
    assert json.loads((run / "manifest.json").read_text())["status"] == "running"
    code, out, err = cli(capsys, "report", str(run))
    assert code == 0 and "marked killed" in err, err
    manifest = assert_consistent(run, "killed")
    first = manifest["workloads"][0]
    assert first["status"] == "killed" and first["samples_done"] >= (1 if how == "SIGKILL" else 2)
    assert workload_status(manifest)["mlp-demo"] == "not_run"
    assert (run / "report.html").is_file() and not (run / "spool").exists()   # the page of a killed run
    assert cli(capsys, "report", str(run))[0] == 0  # a second report changes nothing
    assert assert_consistent(run, "killed")["workloads"] == manifest["workloads"]


# ---- concurrent writers --------------------------------------------------------------------------------
def test_runs_started_at_once_get_their_own_directories(tmp_path):
    cfg = _config(tmp_path, DEMO, samples=1, name="same")
    procs = [_start(tmp_path, cfg) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    dirs = run_dirs(tmp_path / "runs")
    assert len(dirs) == 2
    for d in dirs:
        assert_consistent(d, "ok")


def test_run_directory_creation_races(tmp_path):
    made, barrier = [], threading.Barrier(8)

    def create():
        barrier.wait()
        made.append(RunDir.create(tmp_path, "race").path)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 8 and all(p.is_dir() and p.parent == tmp_path for p in made)
