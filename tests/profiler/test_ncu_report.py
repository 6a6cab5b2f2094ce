"""The Nsight Compute reader, the measured-point aggregation and the NVTX hook.

Two kinds of input, kept apart on purpose:

* ``tests/fixtures/ncu/bert_mha_a100_details.csv.gz`` is a RECORDED export (another project's
  A100 run of torch.nn.MultiheadAttention; README there). Its expected values are recomputed here
  from its own rows, never typed in. It has no NVTX column.
* the NVTX mapping is tested only on CSVs these tests write (``_raw_export``), in the raw-page
  layout with the NVTX column as Nsight Compute names it; their numbers are made up and say so.
  No report recorded with ``--nvtx`` over this project's ranges exists yet (no GPU was lent).
"""
from __future__ import annotations

import csv
import gzip
import io
import math
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from clirun import TESTS, cuda
from nscharacterize.attribution.measured import kernel_base, measured_points, run_kernel_categories
from nscharacterize.profiler import session
from nscharacterize.profiler.ncu_report import NcuReportError, read_ncu_csv
from nscharacterize.profiler.nvtx import RANGE_RE, range_name
from nscharacterize.taxonomy.classifier import Taxonomy

RECORDED = TESTS / "fixtures" / "ncu" / "bert_mha_a100_details.csv.gz"
NVTX_COL = "thread Domain:Push/Pop_Range:PL_Type:PL_Value:CLR_Type:Color:Msg_Type:Msg"


def _recorded_rows() -> dict[str, dict[str, float]]:
    """ID -> {metric: value} straight from the recorded file (plain units: byte, cycle, inst)."""
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(RECORDED.read_bytes()).decode())))
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        out.setdefault(r["ID"], {"kernel": r["Kernel Name"]})[r["Metric Name"]] = float(r["Metric Value"].replace(",", ""))
    return out


def test_recorded_details_export_is_read_launch_by_launch():
    frame = read_ncu_csv(RECORDED)
    raw = _recorded_rows()
    assert len(frame) == len(raw) == 26
    for k in frame.itertuples(index=False):
        m = raw[k.id]
        assert k.kernel == m["kernel"]
        assert k.dram_bytes == m["dram__bytes.sum"]
        assert k.time_s == pytest.approx(m["sm__cycles_elapsed.avg"] / m["sm__cycles_elapsed.avg.per_second"])
        flops = sum(m[f"sm__sass_thread_inst_executed_op_{p}{op}_pred_on.sum"] * (2 if op == "fma" else 1)
                    for p in "dfh" for op in ("add", "mul", "fma"))
        assert k.flops == flops
        assert k.sm_pct == m["sm__throughput.avg.pct_of_peak_sustained_elapsed"]
        assert k.ranges == ()      # recorded without --nvtx
    sgemm = frame[frame["kernel"].str.startswith("ampere_sgemm")]
    assert len(sgemm) == 6 and (sgemm["flops"] > 0).all() and (sgemm["time_s"] > 0).all()


def test_recorded_kernels_get_categories_from_the_kernel_rules():
    frame = read_ncu_csv(RECORDED)
    taxonomy = Taxonomy()
    table, notes = measured_points(frame, [("bert", "attention")],
                                   lambda name: taxonomy.classify("kernel", name).category,
                                   assign=("bert", "attention"), source=RECORDED.name)
    assert notes["placed"] == 26 and notes["outside_ranges"] == 0
    gemm = table.set_index("category").loc["gemm"]
    kernels = frame[frame["kernel"].map(lambda n: taxonomy.classify("kernel", n).category) == "gemm"]
    assert gemm["flops"] == kernels["flops"].sum() and gemm["bytes"] == kernels["dram_bytes"].sum()
    assert gemm["intensity"] == pytest.approx(gemm["flops"] / gemm["bytes"])
    assert table["kernels"].sum() == 26
    assert set(table["category_via"]) <= {"kernel rule", "none"}


def _nvtx_cell(*names: str) -> str:
    return "7  " + "  ".join(f'"<default domain>:{n}:none:none:none:none:none:none"' for n in names)


def _raw_export(path: Path, launches: list[tuple[str, str, float, float, float]]) -> Path:
    """A raw-page export WRITTEN BY THIS TEST (not recorded): header, units row, one row per launch
    (nvtx cell, kernel, time in usecond, DRAM in Kbyte, ffma count); thousands separators as ncu writes."""
    metrics = ["gpu__time_duration.sum", "dram__bytes.sum", "sm__sass_thread_inst_executed_op_ffma_pred_on.sum",
               "sm__throughput.avg.pct_of_peak_sustained_elapsed"]
    with path.open("w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        f.write("==PROF== Connected to process 7 (python)\n")
        w.writerow(["ID", "Process ID", "Process Name", "Host Name", NVTX_COL, "Kernel Name", *metrics])
        w.writerow(["", "", "", "", "", "", "usecond", "Kbyte", "inst", "%"])
        for i, (cell, kernel, us, kb, ffma) in enumerate(launches):
            w.writerow([str(i), "7", "python", "127.0.0.1", cell, kernel, f"{us:,.2f}", f"{kb:,.2f}", f"{ffma:,.0f}",
                        "50.00"])
    return path


def test_nvtx_ranges_place_kernels_per_component_and_pass(tmp_path):
    enc, rea = range_name("demo", "encoder", "s0r0"), range_name("demo", "reasoner|x", "s0r0")
    launches = [
        (_nvtx_cell("outer", enc), "ampere_sgemm_128x64_nn", 10.0, 1000.0, 1_000_000),
        (_nvtx_cell(range_name("demo", "encoder", "s0r1")), "ampere_sgemm_128x64_nn", 30.0, 3000.0, 3_000_000),
        (_nvtx_cell(range_name("demo", "encoder", "w0")), "ampere_sgemm_128x64_nn", 900.0, 9000.0, 9),
        (_nvtx_cell(rea), "void at::native::vectorized_elementwise_kernel<4, at::native::AddFunctor<float>>", 2.0,
         1.5, 0),
        ("", "void at::native::vectorized_elementwise_kernel<4, at::native::AddFunctor<float>>", 5.0, 5.0, 0),
        (_nvtx_cell(range_name("other", "thing", "s0r0")), "ampere_sgemm_128x64_nn", 1.0, 1.0, 1),
    ]
    frame = read_ncu_csv(_raw_export(tmp_path / "r.csv", launches))
    assert frame.loc[0, "ranges"] == (("demo", "encoder", "s0r0"),)
    assert frame.loc[0, "time_s"] == pytest.approx(10e-6) and frame.loc[1, "dram_bytes"] == 3_000_000
    taxonomy = Taxonomy()
    run_categories = run_kernel_categories(pd.DataFrame({
        "source": ["kernel"], "workload": ["demo"], "component": ["reasoner|x"], "category": ["logic"],
        "name": ["void at::native::vectorized_elementwise_kernel<4, at::native::AddFunctor<float> >"]}))
    table, notes = measured_points(frame, [("demo", "encoder"), ("demo", "reasoner|x")],
                                   lambda n: taxonomy.classify("kernel", n).category, run_categories)
    assert notes == {"launches": 6, "placed": 3, "outside_ranges": 1, "warmup": 1, "unknown_ranges": ["other|thing"]}
    rows = table.set_index(["component", "category"])
    gemm = rows.loc[("encoder", "gemm")]
    assert gemm["passes"] == 2 and gemm["kernels"] == 1        # two passes, one launch each
    assert gemm["time_s"] == pytest.approx(20e-6)              # (10 + 30) us / 2 passes; warm-up left out
    assert gemm["bytes"] == pytest.approx(2_000_000) and gemm["flops"] == pytest.approx(4_000_000)
    assert gemm["category_via"] == "kernel rule"
    logic = rows.loc[("reasoner|x", "logic")]                  # the run's own category wins over the name
    assert logic["category_via"] == "run" and logic["bytes"] == pytest.approx(1500.0)
    assert math.isclose(logic["flops"], 0.0)


def test_range_names_round_trip_through_the_reader_pattern():
    name = range_name("nscl", "image parser", "s3r12")
    m = RANGE_RE.search(_nvtx_cell(name))
    assert (m["workload"], m["component"], m["pass"]) == ("nscl", "image parser", "s3r12")


@pytest.mark.parametrize("content, what", [
    (b"NVPR\x00\x01binary", "binary .ncu-rep"),
    (b"==PROF== Disconnected\n", "no Nsight Compute header"),
    (b'"ID","Process ID","Metric Name","Metric Value"\n"0","1","dram__bytes.sum","5"\n', "Kernel Name"),
    (b'"ID","Kernel Name","dram__bytes.sum"\n"","","byte"\n', "no kernel launch rows"),
    (b'"ID","Kernel Name","dram__bytes.sum"\n"","","byte"\n"0","k","five"\n', "not a number"),
    (b'"ID","Kernel Name","dram__bytes.sum"\n"","","furlong"\n"0","k","5"\n', "unit 'furlong'"),
    (b'"ID","Kernel Name","launch__grid_size"\n"","",""\n"0","k","5"\n', "neither DRAM bytes nor kernel time"),
])
def test_bad_exports_are_one_user_error(tmp_path, content, what):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(NcuReportError, match=what):
        read_ncu_csv(path)


def test_missing_report_is_a_user_error(tmp_path):
    with pytest.raises(NcuReportError, match="does not exist"):
        read_ncu_csv(tmp_path / "nope.csv")


class _Recorder:
    def __init__(self):
        self.calls: list[str] = []

    def push(self, name):
        self.calls.append(f"push {name}")

    def pop(self):
        self.calls.append("pop")


def _workload():
    lin = torch.nn.Linear(4, 4)
    comps = [SimpleNamespace(name="encoder", fn=lin, kind="neural", profiler="torch"),
             SimpleNamespace(name="reasoner", fn=torch.relu, kind="symbolic", profiler="torch")]
    return SimpleNamespace(components=comps, to_device=lambda d: None,
                           make_samples=lambda n: [torch.ones(2, 4) for _ in range(n)])


def test_timed_pass_names_each_component_with_its_range(monkeypatch):
    rec = _Recorder()
    monkeypatch.setattr(torch.cuda.nvtx, "range_push", rec.push)
    monkeypatch.setattr(torch.cuda.nvtx, "range_pop", rec.pop)
    session._unprofiled_pass(_workload(), torch.ones(2, 4), "cpu", "demo", "s1r2")
    assert rec.calls == ["push nsc|demo|encoder|s1r2", "pop", "push nsc|demo|reasoner|s1r2", "pop"]


def test_ordinary_runs_make_no_nvtx_call(monkeypatch):
    """Off by default, and off on CPU even when asked: nothing to read the ranges there."""
    rec = _Recorder()
    monkeypatch.setattr(torch.cuda.nvtx, "range_push", rec.push)
    monkeypatch.setattr(torch.cuda.nvtx, "range_pop", rec.pop)
    for nvtx in (False, True):
        session.profile_workload(_workload(), "demo", session.SessionSettings(samples=1, warmup=1, repeats=1,
                                                                              nvtx=nvtx))
    assert rec.calls == []


@cuda
def test_cuda_run_pushes_real_ranges_around_timed_passes(monkeypatch):
    """On a GPU: the real torch.cuda.nvtx calls are made (recorded on the way through)."""
    rec = _Recorder()
    real_push, real_pop = torch.cuda.nvtx.range_push, torch.cuda.nvtx.range_pop
    monkeypatch.setattr(torch.cuda.nvtx, "range_push", lambda n: (rec.push(n), real_push(n))[1])
    monkeypatch.setattr(torch.cuda.nvtx, "range_pop", lambda: (rec.pop(), real_pop())[1])
    session.profile_workload(_workload(), "demo", session.SessionSettings(samples=1, warmup=1, repeats=2,
                                                                          device="cuda", nvtx=True))
    pushed = [c for c in rec.calls if c.startswith("push ")]
    assert pushed == [f"push nsc|demo|{c}|{t}" for t in ("w0", "s0r0", "s0r1") for c in ("encoder", "reasoner")]


def test_run_categories_match_across_the_two_demanglers():
    """The same kernel as CUPTI names it (tests/fixtures/gpu-h100 trace of mlp-demo) and as Nsight
    Compute names it (the recorded export): matched by function name where the run is unambiguous."""
    cupti = ("void (anonymous namespace)::softmax_warp_forward<float, float, float, 2, false, false>(float*, "
             "float const*, int, int, int, bool const*, int, bool)")
    ncu = next(k for k in read_ncu_csv(RECORDED)["kernel"] if "softmax_warp_forward" in k)
    assert kernel_base(cupti) == kernel_base(ncu) == "softmax_warp_forward"
    copy = "void at::native::elementwise_kernel<128, 2, copy>(int, copy)"
    events = pd.DataFrame({"source": ["kernel", "kernel", "kernel", "op"], "workload": ["w"] * 4,
                           "component": ["c"] * 4, "name": [cupti, copy, copy.replace("copy", "add"), "aten::add"],
                           "category": ["logic", "data_movement", "elementwise", "elementwise"]})
    table = run_kernel_categories(events)
    assert table[("w", "c", "fn:softmax_warp_forward")] == "logic"
    assert ("w", "c", "fn:elementwise_kernel") not in table      # two categories: the name decides
    assert table[("w", "c", "".join(copy.split()))] == "data_movement"
    frame = pd.DataFrame([{"ranges": (("w", "c", "s0r0"),), "kernel": ncu, "time_s": 1.0, "dram_bytes": 1.0,
                           "flops": 1.0, "sm_pct": 1.0, "tensor_inst": 0.0}])
    rows, _ = measured_points(frame, [("w", "c")], lambda n: "other", table)
    assert rows.loc[0, "category"] == "logic" and rows.loc[0, "category_via"] == "run"
