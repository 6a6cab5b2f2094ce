"""import-trace on traces that strangers committed to their own repositories, in formats none of
our fixtures has: GPUPuzzlers' 2023 traces (Meta's older Kineto format, with the categories
`Kernel` and `Memcpy`, `async_cpu_to_gpu` flows and no `deviceProperties`; BSD-3-Clause, kept in
tests/fixtures/external-traces/, README there). Their GPU busy time must equal an independent union
of the raw device intervals, kernels replayed from a CUDA graph must be classified by their names,
and what the trace does not say (the GPU's model, the launches outside any op) is said."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from clirun import TESTS, printed_dir, run_cli
from kineto_events import event, trace_file

FIXTURES = TESTS / "fixtures" / "external-traces"
CUDAGRAPH = FIXTURES / "T18_gpupuzzlers_cudagraph"
SMALL_KERNELS = FIXTURES / "T19_gpupuzzlers_small_kernels"
DEVICE_CATEGORIES = {"Kernel", "Memcpy", "Memset", "kernel", "gpu_memcpy", "gpu_memset"}


def imported(tmp_path: Path, folder: Path) -> tuple[Path, pd.DataFrame]:
    proc = run_cli("import-trace", str(folder), "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = printed_dir(proc)
    return run, pd.read_parquet(run / "events.parquet")


def raw_busy_us(folder: Path) -> float:
    """The union of the file's device intervals, read with the standard library alone."""
    (path,) = folder.glob("*.json.gz")
    events = json.loads(gzip.decompress(path.read_bytes()))["traceEvents"]
    spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("cat") in DEVICE_CATEGORIES)
    total, end = 0.0, float("-inf")
    for start, stop in spans:
        total += max(0.0, stop - max(start, end))
        end = max(end, stop)
    return total


def test_cuda_graph_replays_are_classified_by_their_kernels(tmp_path):
    run, events = imported(tmp_path, CUDAGRAPH)
    kernels = events[events["source"] == "kernel"]
    assert kernels["gpu_busy_us"].sum() == pytest.approx(raw_busy_us(CUDAGRAPH), rel=1e-9)
    busy = kernels.groupby("category", observed=True)["gpu_busy_us"].sum()
    assert busy.get("other", 0.0) == 0.0 and busy["gemm"] / busy.sum() > 0.9
    replayed = kernels[(kernels["ancestors"] == "") & kernels["name"].str.contains("sgemm")]
    assert len(replayed) and (replayed["rule"] == "k-gemm").all()   # no op: the kernel's own name
    table = (run / "table.md").read_text()
    assert "220 of 506 device events have no launching op in the trace" in table
    assert "Device: cuda (imported trace: device model" in table      # no deviceProperties: said


def test_the_older_kernel_category_is_read(tmp_path):
    _run, events = imported(tmp_path, SMALL_KERNELS)
    kernels = events[events["source"] == "kernel"]
    assert int(kernels["calls"].sum()) == 62
    assert set(kernels["category"]) == {"gemm"} and kernels["ancestors"].str.endswith("aten::mm").all()
    assert kernels["gpu_busy_us"].sum() == pytest.approx(raw_busy_us(SMALL_KERNELS), rel=1e-9)


def _one_gemm(**op_args) -> list[dict]:
    """An aten::mm that launches one sgemm kernel, as Kineto writes them."""
    return [event("cpu_op", "aten::mm", 0, 30, **{"External id": 1}, **op_args),
            event("cuda_runtime", "cudaLaunchKernel", 5, 10, correlation=11),
            event("kernel", "ampere_sgemm_64x32_sliced1x4_nn", 20, 40, tid=7, stream=7, correlation=11)]


def test_a_trace_recorded_without_shapes_says_why_the_roofline_is_empty(tmp_path):
    """6 of the 18 strangers' traces were recorded without record_shapes (their ops carry no Input
    Dims): the roofline can size nothing, and the note says why, once, with the fix."""
    events = _one_gemm()
    path = trace_file(tmp_path / "no_shapes.json", events)
    run, _events = imported(tmp_path / "runs", path)
    table = (run / "table.md").read_text()
    assert table.count("recorded without record_shapes") == 1 and "record_shapes=True" in table
    # with shapes recorded, no such note
    events[0]["args"].update({"Input Dims": [[4, 8], [8, 2]], "Input type": ["float", "float"]})
    trace_file(path, events)
    run, _events = imported(tmp_path / "runs2", path)
    assert "record_shapes" not in (run / "table.md").read_text()


def test_traces_from_different_gpus_keep_no_one_gpus_ceilings(tmp_path):
    """Imported together, traces from an H800 and a T4 got the first one's datasheet ceilings for
    both; now the device line names both and the roofline has no bounds, and says why."""
    shapes = {"Input Dims": [[64, 32], [32, 16]], "Input type": ["float", "float"]}
    for gpu, folder in (("NVIDIA H800", "h800"), ("Tesla T4", "t4")):
        (tmp_path / folder).mkdir()
        trace_file(tmp_path / folder / "trace.json", _one_gemm(**shapes), deviceProperties=[{"id": 0, "name": gpu}])
    run, _events = imported(tmp_path / "runs", tmp_path / "h800")
    assert "datasheet peaks of NVIDIA H800" in (run / "table.md").read_text()   # one GPU: its ceilings
    proc = run_cli("import-trace", str(tmp_path / "h800"), str(tmp_path / "t4"), "--out", str(tmp_path / "runs2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = printed_dir(proc)
    table = (run / "table.md").read_text()
    assert "Device: cuda (NVIDIA H800 + Tesla T4)" in table
    assert "the traces come from 2 different GPUs (NVIDIA H800, Tesla T4)" in table
    manifest = json.loads((run / "manifest.json").read_text())
    assert not manifest.get("ceilings") and manifest["fingerprint"]["device_names"] == ["NVIDIA H800", "Tesla T4"]
