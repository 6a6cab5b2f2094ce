"""CUDA attribution without a GPU: real H100 traces (tests/fixtures/gpu-h100, copied from the
project's shared fixtures) and one small synthetic trace, through the reader, the timeline walk,
the taxonomy and the three views."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clirun import printed_dir, run_cli
from kineto_events import event, trace_file

from nscharacterize.attribution.aggregate import attribute
from nscharacterize.attribution.aggregate import breakdown as make_breakdown
from nscharacterize.attribution.views import gpu_summary
from nscharacterize.import_trace import import_traces
from nscharacterize.profiler import chrome_trace, trace_events
from nscharacterize.profiler.events import events_frame, tagged
from nscharacterize.taxonomy.categories import CATEGORIES, DEVICE_CATEGORIES, GPU_IDLE
from nscharacterize.taxonomy.classifier import Taxonomy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gpu-h100"
TRACES = sorted(FIXTURES.glob("*.json.gz"))
VIEW_AXES = ("category", "device", "bound", "bound_split")


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    """One real CLI call of import-trace on every copied fixture."""
    out = tmp_path_factory.mktemp("imported")
    proc = run_cli("import-trace", *map(str, TRACES), "--out", str(out), "--name", "h100")
    assert proc.returncode == 0, proc.stderr
    return printed_dir(proc)


def test_each_view_adds_up_to_the_wall_time(imported):
    samples = pd.read_csv(imported / "samples.csv")
    wall = samples[samples["axis"] == "total"].set_index(["workload", "component", "sample"])["time_s"]
    assert len(wall) == len(TRACES)
    for axis in VIEW_AXES:
        part = samples[samples["axis"] == axis].groupby(["workload", "component", "sample"])["time_s"].sum()
        assert len(part) == len(TRACES), axis  # every fixture has device activity: all views exist
        np.testing.assert_allclose(part.loc[wall.index], wall, rtol=1e-9, err_msg=axis)
    dev = samples[samples["axis"] == "device"]
    assert set(dev["category"]) == set(DEVICE_CATEGORIES) and (dev[dev["category"] == GPU_IDLE]["time_s"] > 0).all()
    assert set(samples[samples["axis"] == "bound"]["category"]) == set(CATEGORIES)
    table = (imported / "table.md").read_text()
    assert table.index("bound view") < min(table.index("Table III form"), table.index("device view"))
    page = (imported / "report.html").read_text()
    assert page.count('"type":"heatmap"') == 1 and not list(imported.glob("*.png"))   # PNGs only on --png
    # report and its re-classification work on an imported run
    proc = run_cli("report", str(imported), "--reclassify")
    assert proc.returncode == 0, proc.stderr
    again = pd.read_csv(imported / "samples.csv")
    pd.testing.assert_frame_equal(again, samples)


def test_imported_h100_traces_get_sized_roofline_rows_under_datasheet_ceilings(imported):
    manifest = json.loads((imported / "manifest.json").read_text())
    ceilings = manifest["ceilings"]
    assert ceilings["source"] == "datasheet" and ceilings["device_name"] == "NVIDIA H100 80GB HBM3"
    assert ceilings["bandwidth_bytes_s"] == 3.35e12 and ceilings["peak_flops"]["float32"] == 67e12
    table = pd.read_csv(imported / "roofline.csv")
    assert set(table["ceilings"]) == {"datasheet"} and set(table["device"]) == {"cuda"}
    sized = table[(table["flops"] > 0) & (table["bytes"] > 0)]
    # every traced component has sized work; the convolutions and products are sized from the
    # trace's Input Dims / Input type / Concrete Inputs, with a bound and a fraction of it
    assert set(zip(sized["workload"], sized["component"])) == {tuple(p.name.split(".")[:2]) for p in TRACES}
    conv = table[(table["component"] == "feature_extractor") & (table["category"] == "conv")].iloc[0]
    assert conv["flops"] > 1e9 and conv["bound"] in ("memory", "compute")
    assert 0 < conv["fraction_of_bound"] < 1.5 and conv["unsized_share"] == 0
    gemm = table[(table["workload"] == "mlp-demo") & (table["category"] == "gemm")]
    assert len(gemm) and (gemm["flops"] > 0).all()
    text = (imported / "table.md").read_text()
    assert "## Roofline" in text and "datasheet peaks of NVIDIA H100 SXM5" in text
    # the model and torch.profiler's formulas agree exactly on convolutions and products
    for op in ("aten::conv2d", "aten::addmm"):
        line = next(ln for ln in text.splitlines() if ln.startswith(f"| {op} |"))
        assert line.rstrip(" |").endswith("1.0000"), line


def test_memcpy_and_memset_are_data_movement():
    trace = chrome_trace.load(FIXTURES / "nscl.image_parser.0.json.gz")
    kinds = set(trace.device["kind"])
    assert {"kernel", "memcpy", "memset"} <= kinds
    rows, _ = trace_events.rows(trace, "cuda")
    ev = Taxonomy().classify_events(events_frame([tagged(rows, workload="w", component="c", kind="k", sample=0)]))
    copies = ev[(ev["source"] == "kernel") & ev["name"].str.contains("Memcpy|Memset")]
    assert len(copies) >= 2 and set(copies["category"]) == {"data_movement"}
    assert set(copies["rule"]) == {"memcpy", "memset"}


def test_nlm_policy_trace_is_host_bound(imported):
    bd = pd.read_csv(imported / "breakdown.csv")
    summary = gpu_summary(bd, pd.read_csv(imported / "timings.csv")).set_index(["workload", "component"])
    nlm = summary.loc[("nlm-path", "policy")]
    assert nlm["verdict"] == "host-bound" and nlm["gpu_busy"] < 0.3 and nlm["kernel_launches"] > 100


def _independent_busy_us(path: Path) -> tuple[float, float]:
    """GPU busy by merging sorted device intervals, read with the standard library only."""
    events = json.loads(gzip.decompress(path.read_bytes()))["traceEvents"]
    dev = sorted((e["ts"], e["ts"] + e["dur"]) for e in events
                 if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset"))
    busy, cur_s, cur_e = 0.0, None, None
    for s, e in dev:
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                busy += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    busy += (cur_e - cur_s) if cur_e is not None else 0.0
    host = [(e["ts"], e["ts"] + e.get("dur", 0)) for e in events
            if e.get("ph") == "X" and e.get("cat") in ("cpu_op", "user_annotation", "cuda_runtime", "cuda_driver",
                                                       "kernel", "gpu_memcpy", "gpu_memset")]
    span = max(e for _s, e in host) - min(s for s, _e in host)
    return busy, span


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.name.split(".json")[0])
def test_gpu_busy_agrees_with_an_interval_union(path):
    busy, span = _independent_busy_us(path)
    _rows, facts = trace_events.rows(chrome_trace.load(path), "cuda")
    assert abs(facts.gpu_busy_s * 1e6 - busy) <= 0.001 * span
    assert facts.span_s * 1e6 == pytest.approx(span, rel=1e-9)


def test_overlapping_streams_are_counted_once(tmp_path):
    """Two GEMM kernels on two streams overlap by 20 us; an element-wise kernel runs alone."""
    events = [
        event("cpu_op", "aten::mm", 0, 30, **{"External id": 1}),
        event("cuda_runtime", "cudaLaunchKernel", 5, 10, correlation=11),
        event("cpu_op", "aten::mm", 40, 20, **{"External id": 2}),
        event("cuda_runtime", "cudaLaunchKernel", 45, 10, correlation=12),
        event("cpu_op", "aten::relu", 70, 20, **{"External id": 3}),
        event("cpu_op", "aten::clamp_min", 72, 16, **{"External id": 4}),
        event("cuda_runtime", "cudaLaunchKernel", 75, 5, correlation=13),
        event("kernel", "ampere_sgemm_128x64_nn", 20, 50, tid=7, stream=7, correlation=11, **{"External id": 1}),
        event("kernel", "ampere_sgemm_64x64_nn", 50, 40, tid=8, stream=8, correlation=12, **{"External id": 2}),
        event("kernel", "elementwise_kernel", 100, 10, tid=7, stream=7, correlation=13, **{"External id": 4}),
    ]
    trace = chrome_trace.load(trace_file(tmp_path / "synthetic.json", events))
    rows, facts = trace_events.rows(trace, "cuda")
    assert facts.gpu_busy_s * 1e6 == pytest.approx(80.0)     # [20, 90) and [100, 110)
    assert facts.span_s * 1e6 == pytest.approx(110.0)
    assert facts.kernel_launches == 3
    ev = Taxonomy().classify_events(events_frame([tagged(rows, workload="w", component="c", kind="k", sample=0)]))
    kern = ev[ev["source"] == "kernel"].set_index("name")
    assert kern["gpu_busy_us"].sum() == pytest.approx(80.0)
    assert kern.loc["ampere_sgemm_128x64_nn", "gpu_busy_us"] == pytest.approx(30 + 10)   # 20 alone + 20/2
    timings = pd.DataFrame([{"workload": "w", "component": "c", "kind": "k", "profiler": "torch", "device": "cuda",
                             "sample": 0, "wall_s": 110e-6, "profiled_wall_s": 110e-6, "kernel_launches": 3,
                             "median_kernel_us": 40.0}])
    att = attribute(ev, timings)
    s = att.samples.set_index(["axis", "category"])["time_s"] * 1e6
    assert s.loc[("device", "gemm")] == pytest.approx(70.0)          # 90 us of kernels, overlap once
    assert s.loc[("device", "elementwise")] == pytest.approx(10.0)
    assert s.loc[("device", GPU_IDLE)] == pytest.approx(30.0)
    # bound: busy 80 us by kernel category; idle [0,20) in mm (host op), [90,100) nothing running
    assert s.loc[("bound", "gemm")] == pytest.approx(70.0 + 20.0)
    assert s.loc[("bound_split", "python_framework")] == pytest.approx(10.0)
    for axis in ("category", "device", "bound", "bound_split"):
        assert s.loc[axis].sum() == pytest.approx(110.0)
    assert (att.checks["addup_error_s"] < 1e-12).all()
    bd = make_breakdown(att.samples)
    assert gpu_summary(bd, timings)["verdict"].iloc[0] == "device-bound"   # busy 80 of 110 us: 73% >= 70%


def test_import_trace_rejects_a_bad_file_in_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    proc = run_cli("import-trace", str(bad), "--out", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "bad.json" in proc.stderr


def test_import_trace_api_on_a_cpu_trace_keeps_only_the_host_view(tmp_path):
    import torch
    from torch.profiler import ProfilerActivity, profile

    lin = torch.nn.Linear(8, 8)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        lin(torch.randn(4, 8)).relu()
    path = tmp_path / "mine.json"
    prof.export_chrome_trace(str(path))
    run = import_traces([str(path)], out=str(tmp_path / "runs"))
    bd = run.breakdown()
    assert set(bd["axis"]) == {"category", "other_split", "total"}
    assert bd[bd["axis"] == "category"]["share"].sum() == pytest.approx(1.0)
    assert set(bd["component"]) == {"mine"}
    assert "ceilings" not in run.manifest   # a CPU trace: no datasheet to take, nothing measured
