"""Names of imported traces that stay from run to run: torch.profiler's own writers put the run (a
time, a process id, the host) into a file's name, and ``compare`` pairs two runs by (workload,
component). Before, the same script profiled twice with ``tensorboard_trace_handler`` gave two
components that never met (every row "new" or gone, the gate on the workload total alone)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from clirun import printed_dir, run_cli

from nscharacterize.import_trace import _stem
from nscharacterize.profiler.chrome_trace import Trace

# A user's script as the torch docs write it: a schedule, tensorboard_trace_handler, steps.
SCRIPT = """
import sys, torch
from torch.profiler import ProfilerActivity, profile, schedule, tensorboard_trace_handler
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
x = torch.randn(32, 64)
with profile(activities=[ProfilerActivity.CPU], record_shapes=True,
             schedule=schedule(wait=0, warmup=1, active=3, repeat=int(sys.argv[2])),
             on_trace_ready=tensorboard_trace_handler(sys.argv[1])) as prof:
    for _ in range(4 * int(sys.argv[2])):
        model(x).softmax(-1)
        prof.step()
"""


def _profile(folder: Path, cycles: int = 1) -> list[Path]:
    """Runs the script in a process of its own (its own pid, hence its own file name)."""
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(folder), str(cycles)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return sorted(folder.glob("*.pt.trace.json"))


def _import(folder: Path, out: Path) -> Path:
    proc = run_cli("import-trace", str(folder), "--out", str(out), "--warmup-steps", "0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return printed_dir(proc)


def test_the_same_script_profiled_twice_pairs_up_in_compare(tmp_path):
    runs = []
    for name in ("before", "after"):
        (trace,) = _profile(tmp_path / name)
        assert trace.name.startswith(f"{socket.gethostname()}_")   # torch's default worker: HOST_PID
        runs.append(_import(tmp_path / name, tmp_path / "runs"))
    names = [set(zip(*pd.read_csv(r / "timings.csv")[["workload", "component"]].T.to_numpy())) for r in runs]
    assert names[0] == names[1] == {("imported", "trace")}
    proc = run_cli("compare", str(runs[0]), str(runs[1]), "--format", "json", "--allow-env-change")
    assert proc.returncode in (0, 1, 3), proc.stderr[-2000:]
    rows = json.loads(proc.stdout)["rows"]
    component = [r for r in rows if r["component"] == "trace"]
    assert component and all(r["n_base"] > 0 and r["n_new"] > 0 for r in component
                              if r["category"] == "total"), component
    assert not [r for r in rows if r["verdict"] in ("missing", "added")], rows


def test_a_profilers_cycles_in_one_folder_are_numbered_in_their_order(tmp_path):
    """schedule(repeat=2) writes two files of one worker into one folder: the folder's name does
    not tell them apart (and would differ between two runs), their order does."""
    files = _profile(tmp_path / "cycles", cycles=2)
    assert len(files) == 2
    run = _import(tmp_path / "cycles", tmp_path / "runs")
    manifest = json.loads((run / "manifest.json").read_text())
    assert [(Path(i["file"]).name, i["component"]) for i in manifest["imported"]] == \
        [(files[0].name, "trace"), (files[1].name, "trace-2")]


def _trace(metadata: dict | None = None, tids=(4242,)) -> Trace:
    host = pd.DataFrame({"tid": list(tids)})
    empty = pd.DataFrame()
    return Trace(host=host, device=empty, python=empty, memory=empty, span_us=(0.0, 0.0), metadata=metadata or {})


@pytest.mark.parametrize("file_name, trace, component", [
    # tensorboard_trace_handler, default worker HOST_PID: the host from the metadata (torch >= 2.4) ...
    ("vm_4242.1796546007725112877.pt.trace.json", _trace({"host_name": "vm"}, tids=(1,)), "trace"),
    ("node-3.cluster.local_99.1796546007725112877.pt.trace.json.gz", _trace({"host_name": "node-3.cluster.local"}),
     "trace"),
    # ... or the pid, which is the main thread's id (torch 2.3 writes no host_name)
    ("vm_4242.1796546007725112877.pt.trace.json", _trace(), "trace"),
    # a worker the user named: kept, less the time (ns, or ms in torch 1.x)
    ("resnet50.1796546007725112877.pt.trace.json", _trace(), "resnet50"),
    ("worker0.1623143089861.pt.trace.json.gz", _trace(), "worker0"),
    ("gpu_7.1623143089861.pt.trace.json", _trace(), "gpu_7"),   # 7 is no thread of the trace: not a pid
    # Kineto's on-demand traces: WORKER.Mon_DD_HH_MM_SS.PID
    ("rank-34.Jul_15_10_52_41.1074.pt.trace.json.gz", _trace(), "rank-34"),
    # any other name is kept whole
    ("trace.json", _trace(), "trace"),
    ("benchmark_result_924719_1679055439_trace.json.gz", _trace(), "benchmark_result_924719_1679055439_trace"),
    ("1234.json", _trace(), "1234"),
    (".pt.trace.json", _trace(), ".pt.trace"),
])
def test_run_specific_parts_of_a_name_are_left_out(file_name, trace, component):
    assert _stem(file_name, trace) == component

