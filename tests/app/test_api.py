"""The Python API, called directly as a notebook would: run, report, import, compare and gate.

Real runs at tiny sizes (one sample, real torch ops); the CLI tests check the same behaviour
through subprocesses, so these show that the CLI adds nothing but parsing and printing."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys

import pandas as pd
import pytest
import torch

import nscharacterize as nsc
from clirun import TESTS
from gate_fakes import make_run
from nscharacterize.config import ConfigError
from nscharacterize.gate import baselines
from nscharacterize.rundir.store import RunDirError

TINY = {"name": "tiny", "seed": 0, "device": "cpu", "samples": 1, "warmup": 0, "repeats": 1, "threads": 1,
        "workloads": [{"workload": "mlp-demo", "params": {"objects": 4, "hidden": 8}}]}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> nsc.Run:
    return nsc.run(TINY, out=tmp_path_factory.mktemp("api"))


def test_public_names_are_the_api():
    assert set(nsc.__all__) == {"Run", "Report", "run", "run_model", "report", "import_traces", "compare",
                                "baseline_gate"}
    assert all(callable(getattr(nsc, name)) for name in nsc.__all__)
    import nscharacterize.gate  # noqa: F401  (a stage package: must not shadow an API name)

    assert all(callable(getattr(nsc, name)) for name in nsc.__all__)


def test_run_a_config_dict_and_open_its_tables(tiny):
    assert tiny.status == "ok" and not tiny.failed
    assert tiny.manifest.name == "tiny" and tiny.manifest.workloads[0].samples_done == 1
    bd = tiny.breakdown
    assert isinstance(bd, pd.DataFrame) and {"mlp-demo"} == set(bd["workload"])
    total = bd[bd["axis"] == "total"]["time_s"].sum()
    cats = bd[bd["axis"] == "category"]["time_s"].sum()
    assert cats == pytest.approx(total, rel=1e-9)        # the categories add up to the wall time
    assert len(tiny.events) and {"category", "rule"} <= set(tiny.events.columns)
    assert set(tiny.timings["component"]) == set(bd["component"])
    assert "## Roofline" in tiny.table and len(tiny.roofline) and len(tiny.system)


def test_run_a_model_and_an_input_factory(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    run = nsc.run_model(model, lambda i: torch.randn(8, 16), name="mlp", samples=2, warmup=0, repeats=1,
                        out=tmp_path)
    assert run.status == "ok"
    bd = run.breakdown.set_index(["axis", "category"])
    assert bd.loc[("category", "gemm"), "time_s"].item() > 0       # the two Linear layers are products
    assert run.manifest.workloads[0].name == "mlp" and run.timings["sample"].nunique() == 2
    sized = run.roofline.set_index("category")
    assert sized.loc["gemm", "flops"] == pytest.approx(2 * 8 * (16 * 32 + 32 * 4))


def test_a_bad_config_raises_one_user_error(tmp_path):
    with pytest.raises(ConfigError, match=r"<dict>: samplez: unknown key"):
        nsc.run({**TINY, "samplez": 2}, out=tmp_path)


def test_report_rerenders_and_reclassifies(tiny, tmp_path):
    copy = shutil.copytree(tiny.path, tmp_path / "copy")
    (copy / "table.md").unlink()
    done = nsc.report(copy)
    assert not done.notes and {p.name for p in done.written} >= {"table.md", "report.html", "roofline.csv"}
    pd.testing.assert_frame_equal(done.breakdown, tiny.breakdown)
    again = nsc.report(copy, reclassify=True)
    pd.testing.assert_frame_equal(again.breakdown, tiny.breakdown, rtol=1e-12)


def test_report_recovers_a_killed_run(tiny, tmp_path):
    copy = shutil.copytree(tiny.path, tmp_path / "killed")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest.update(status="running", finished=None, pid=int(dead.stdout), host=socket.gethostname(),
                    pid_started=None)
    manifest["workloads"][0]["status"] = "running"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    done = nsc.report(copy)
    assert done.status == "killed" and "marked killed" in done.notes[0]
    assert done.manifest.workloads[0].status == "killed" and done.manifest.workloads[0].samples_done == 1
    assert (copy / "report.html").is_file()


def test_report_leaves_a_live_run_alone(tiny, tmp_path):
    copy = shutil.copytree(tiny.path, tmp_path / "live")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest.update(status="running", pid=1, host=socket.gethostname(), pid_started=None)   # pid 1 never dies
    (copy / "manifest.json").write_text(json.dumps(manifest))
    before = (copy / "table.md").read_text()
    done = nsc.report(copy)
    assert done.written == [] and "still being written" in done.notes[0]
    assert (copy / "table.md").read_text() == before
    with pytest.raises(RunDirError, match="still being written"):
        nsc.report(copy, reclassify=True)


def test_import_traces(tmp_path):
    run = nsc.import_traces([TESTS / "fixtures" / "gpu-h100" / "mlp-demo.encoder.0.json.gz"], out=tmp_path,
                            name="h100")
    assert set(run.timings["device"]) == {"cuda"} and run.manifest.run_id
    assert {"device", "bound", "bound_split"} <= set(run.breakdown["axis"])
    rules = tmp_path / "mine.yaml"   # a rule file of the user's, given as a Path
    rules.write_text("namespace: ops\nrules:\n  - match: 'aten::linear'\n    category: embedding\n    reason: a test\n")
    ruled = nsc.import_traces([TESTS / "fixtures" / "gpu-h100" / "mlp-demo.encoder.0.json.gz"], out=tmp_path,
                              name="ruled", rules={"ops": [rules]})
    linear = ruled.events[ruled.events["name"] == "aten::linear"]
    assert len(linear) and set(linear["category"]) == {"embedding"}
    assert ruled.manifest.fingerprint["rules"] != run.manifest.fingerprint["rules"]


def test_compare_and_gate(tmp_path):
    base = make_run(tmp_path / "base", seed=1)
    slower = make_run(tmp_path / "new", seed=2, scale={("mlp-demo", "encoder", "gemm"): 1.5})
    cmp = nsc.compare(base, slower)
    assert cmp.exit_code == 1
    rows = cmp.table
    gemm = rows[(rows["component"] == "encoder") & (rows["category"] == "gemm")].iloc[0]
    assert gemm["verdict"] == "regressed" and gemm["ratio"] == pytest.approx(1.5, rel=0.1)
    assert nsc.compare(base, slower, rel_threshold=0.9).exit_code == 0     # a threshold as a keyword
    baselines.save(base, "main", tmp_path / "store")
    assert nsc.baseline_gate(slower, "main", store=tmp_path / "store").exit_code == 1
