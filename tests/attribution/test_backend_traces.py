"""import-trace on traces of GPUs other than NVIDIA's, which torch files under its "cuda" device too.

Intel GPUs (torch's XPU backend): no public repository we could find holds a recorded XPU trace,
so the trace here is written in the form Kineto's XPU plugin gives its events
(libkineto/src/plugin/xpupti: runtime calls of category ``xpu_runtime`` carrying ``correlation``
and the op's ``External id``; Level Zero calls as ``xpu_driver``; kernels with ``correlation``,
``sycl queue`` and the queue as ``tid``, no ``stream``; ``xpu_sync`` waits; ``deviceProperties``
with the vendor). ROCm traces: tests/attribution/test_external_traces.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from clirun import printed_dir, run_cli
from kineto_events import event, trace_file

GPU = "Intel(R) Data Center GPU Max 1550"
# (op, kernel, kernel duration): one GEMM, one element-wise op, one copy per step
OPS = [("aten::addmm", "gemm_kernel", 60.0), ("aten::add", "VectorizedElementwiseKernel", 20.0),
       ("aten::copy_", "at::native::xpu::CopyKernel", 10.0)]


def xpu_trace(path: Path, steps: int = 3) -> Path:
    """Kineto's XPU form: op -> urEnqueueKernelLaunch (xpu_runtime, with a Level Zero call inside it)
    -> kernel on a SYCL queue, tied by correlation; a host sync at the end of each step."""
    events, ext, corr, t = [], 1, 4000, 1000.0
    for step in range(steps):
        events.append(event("user_annotation", f"ProfilerStep#{step}", t, 900.0, **{"External id": ext}))
        ext += 1
        for i, (op, kernel, dur) in enumerate(OPS):
            start = t + 10 + 250 * i
            events.append(event("cpu_op", op, start, 200.0, **{"External id": ext}))
            events.append(event("xpu_runtime", "urEnqueueKernelLaunch", start + 150, 30.0,
                                **{"External id": ext, "correlation": corr}))
            events.append(event("xpu_driver", "zeCommandListAppendLaunchKernel", start + 155, 10.0,
                                **{"correlation": corr}))
            events.append(event("kernel", kernel, start + 190, dur, pid=0, tid=64,
                                **{"External id": ext, "correlation": corr, "kernel_id": corr,
                                   "sycl queue": 64, "l0 queue": "0x000055d08b8fc138", "device": 0}))
            ext, corr = ext + 1, corr + 1
        events.append(event("xpu_sync", "zeEventHostSynchronize", t + 800, 50.0, pid=-1, tid=1))
        t += 1000.0
    props = [{"id": 0, "name": GPU, "totalGlobalMem": 68719476736, "maxComputeUnits": 448,
              "vendor": "Intel(R) Corporation", "driverVersion": "1.3.29735"}]
    return trace_file(path, events, deviceProperties=props)


def test_an_intel_gpu_trace_is_attributed_through_its_runtime_calls(tmp_path):
    proc = run_cli("import-trace", str(xpu_trace(tmp_path / "xpu.json")), "--warmup-steps", "0",
                   "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = printed_dir(proc)
    events = pd.read_parquet(run / "events.parquet")
    manifest = json.loads((run / "manifest.json").read_text())
    # every kernel reached its op through urEnqueueKernelLaunch: GEMM, element-wise, data movement
    busy = events.groupby("category", observed=True)["gpu_busy_us"].sum() / 3
    assert busy[busy > 0].round(6).to_dict() == {"gemm": 60.0, "elementwise": 20.0, "data_movement": 10.0}
    # the runtime calls are read as runtime calls (a name no CUDA pattern knows) inside their op
    runtime = events[events["source"] == "runtime"]
    assert set(runtime["name"]) == {"urEnqueueKernelLaunch", "zeCommandListAppendLaunchKernel"}
    assert set(runtime["category"].astype(str)) == {"gemm", "elementwise", "data_movement"}
    notes = " ".join(n for imp in manifest["imported"] for n in imp["notes"])
    assert "xpu_runtime" not in notes and "xpu_sync" not in notes and "no launching op" not in notes
    # the report names the GPU as what it is, with its datasheet ceilings (one stack of a Max 1550)
    assert manifest["fingerprint"]["accelerator"] == "xpu"
    assert f"Device: xpu ({GPU})" in (run / "table.md").read_text()
    assert "Max 1550 (one stack" in manifest["ceilings"]["datasheet_entry"]


def test_cuda_event_markers_are_not_reported_as_unread(tmp_path):
    """torch >= 2.8 records cudaEventRecord's device-side marker (category cuda_event, one
    microsecond on a stream): no work of its own, so neither a kernel nor an unread category."""
    events = [event("cpu_op", "aten::mm", 0.0, 50.0, **{"External id": 1}),
              event("cuda_runtime", "cudaLaunchKernel", 10.0, 5.0, correlation=7, **{"External id": 1}),
              event("kernel", "ampere_sgemm_64x64_nn", 20.0, 30.0, pid=0, tid=7, correlation=7, stream=7),
              event("cuda_event", "Event Record", 51.0, 1.0, pid=0, tid=7, correlation=8, stream=7)]
    path = trace_file(tmp_path / "cuda.json", events)
    run = printed_dir(run_cli("import-trace", str(path), "--out", str(tmp_path / "out")))
    manifest = json.loads((run / "manifest.json").read_text())
    assert not any("cuda_event" in n for imp in manifest["imported"] for n in imp["notes"])
    assert manifest["fingerprint"]["accelerator"] == "cuda"


def test_one_process_driving_two_gpus_is_said(tmp_path):
    """A model split over two GPUs in one process (device_map="auto"): kernels on devices 0 and 1,
    one after the other. GPU busy is the time either runs, and the note says so."""
    events = [event("cpu_op", "aten::mm", 0.0, 100.0, **{"External id": 1}),
              event("cuda_runtime", "cudaLaunchKernel", 10.0, 5.0, correlation=7, **{"External id": 1}),
              event("cuda_runtime", "cudaLaunchKernel", 20.0, 5.0, correlation=8, **{"External id": 1}),
              event("kernel", "ampere_sgemm_64x64_nn", 20.0, 30.0, pid=0, tid=7, correlation=7, stream=7, device=0),
              event("kernel", "ampere_sgemm_64x64_nn", 50.0, 30.0, pid=1, tid=7, correlation=8, stream=7, device=1)]
    path = trace_file(tmp_path / "two_gpus.json", events)
    run = printed_dir(run_cli("import-trace", str(path), "--out", str(tmp_path / "out")))
    notes = json.loads((run / "manifest.json").read_text())["imported"][0]["notes"]
    assert any(n.startswith("device events on 2 GPUs of one process (devices 0, 1)") for n in notes)
    events = pd.read_parquet(run / "events.parquet")
    assert events["gpu_busy_us"].sum() == 60.0
