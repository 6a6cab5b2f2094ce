"""User workloads through the config: a Workload factory, a (Module, input factory) pair, a failure."""
from __future__ import annotations

import json

import pandas as pd
from clirun import printed_dir, run_cli, write_config


def test_user_workloads_run_from_config(tmp_path):
    cfg = write_config(tmp_path / "user.yaml", workloads=[
        {"workload": "user_models:perception_and_rules", "name": "pr", "params": {"objects": 4}},
        {"workload": "user_models:tiny_cnn", "name": "cnn", "params": {"channels": 4}},
    ])
    proc = run_cli("run", str(cfg), "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 0, proc.stderr
    run_dir = printed_dir(proc)
    bd = pd.read_csv(f"{run_dir}/breakdown.csv")
    cats = bd[bd["axis"] == "category"]
    assert set(zip(cats["workload"], cats["component"])) == {("pr", "perceive"), ("pr", "rules"), ("cnn", "forward")}
    conv = cats[(cats["workload"] == "cnn") & (cats["category"] == "conv")]["time_s"].item()
    assert conv > 0
    assert not bd[(bd["axis"] == "python") & (bd["component"] == "rules")].empty


def test_failing_workload_keeps_other_results(tmp_path):
    cfg = write_config(tmp_path / "fail.yaml", samples=2, workloads=[
        {"workload": "user_models:broken"},
        {"workload": "mlp-demo", "params": {"objects": 4, "hidden": 8}},
    ])
    proc = run_cli("run", str(cfg), "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 1
    run_dir = printed_dir(proc)
    manifest = json.loads(open(f"{run_dir}/manifest.json").read())
    status = {w["name"]: (w["status"], w["error"]) for w in manifest["workloads"]}
    assert status["user_models:broken"][0] == "error" and "planted failure" in status["user_models:broken"][1]
    assert status["mlp-demo"][0] == "ok"
    assert manifest["status"] == "partial"
    bd = pd.read_csv(f"{run_dir}/breakdown.csv")
    # the failing workload's first sample finished before it failed on the second: it is kept
    assert set(bd["workload"]) == {"mlp-demo", "user_models:broken"}
    assert set(bd.loc[bd["workload"] == "user_models:broken", "n_samples"]) == {1}
    assert manifest["workloads"][0]["samples_done"] == 1
    assert "planted failure" in open(f"{run_dir}/run.log").read()
    assert "broken" in open(f"{run_dir}/table.md").read()


def test_user_factory_errors_are_one_line(tmp_path):
    cfg = write_config(tmp_path / "u.yaml", workloads=[{"workload": "no_such_module:factory"}])
    proc = run_cli("run", str(cfg), "--out", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "u.yaml: workloads[0].workload" in proc.stderr and "no_such_module" in proc.stderr


def test_run_where_every_workload_fails_still_writes_its_files(tmp_path):
    cfg = write_config(tmp_path / "allfail.yaml", workloads=[{"workload": "user_models:broken",
                                                               "params": {"fail_at": 0}}])
    proc = run_cli("run", str(cfg), "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 1
    run_dir = printed_dir(proc)
    table = open(f"{run_dir}/table.md").read()
    assert "Failed workloads" in table and "planted failure" in table
    assert json.loads(open(f"{run_dir}/manifest.json").read())["status"] == "failed"
