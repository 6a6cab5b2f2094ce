"""import-trace on real torch.profiler traces written by other projects (HolisticTraceAnalysis's and
Kineto's test data: the shared fixtures' external-traces/, README there): kernels reach the op
that launched them, collectives are communication, ranks and steps, notes on what cannot be read,
and the CLI on combinations of traces (CPU-only with GPU, same file names, several ranks)."""
from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clirun import ROOT, printed_dir, run_cli

from nscharacterize.profiler import chrome_trace, trace_events
from nscharacterize.profiler.events import events_frame, tagged
from nscharacterize.profiler.python_names import function_name, traced_name
from nscharacterize.taxonomy.classifier import Taxonomy

EXTERNAL = next((p / "shared" / "fixtures" / "external-traces" for p in ROOT.parents
                 if (p / "shared" / "fixtures" / "external-traces").is_dir()), None)
pytestmark = pytest.mark.skipif(EXTERNAL is None, reason="the shared fixtures' external-traces/ is not beside the checkout")


def trace(folder: str, index: int = 0) -> Path:
    return sorted((EXTERNAL / folder).glob("*.json*"))[index]


@functools.lru_cache(maxsize=None)
def classified(path: Path) -> tuple[chrome_trace.Trace, pd.DataFrame]:
    t = chrome_trace.load(path)
    rows, _facts = trace_events.rows(t, "cuda" if len(t.device) else "cpu")
    return t, Taxonomy().classify_events(events_frame([tagged(rows, workload="w", component="c", kind="k", sample=0)]))


def imported(proc) -> Path:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return printed_dir(proc)


# ---- kernels -> launching op ---------------------------------------------------------------------
@pytest.mark.parametrize("folder", ["T04_hta_alexnet_a100", "T09_hta_ns_resolution", "T14_kineto_tb_resnet50",
                                    "T03_hta_mi250_rocm"])
def test_every_kernel_is_tied_to_an_op_that_encloses_its_launch(folder):
    """Device event -> runtime call (same correlation) -> the host event enclosing that call. On
    the 2023 format (T04: a device event's External id repeats its correlation) the External id
    must not be looked up among ops: that landed kernels on unrelated ops started after them."""
    t = chrome_trace.load(trace(folder))
    dev, host = t.device, t.host
    assert (dev["launcher"] >= 0).all()
    rt = host[(host["source"] == "runtime") & (host["correlation"] >= 0)].drop_duplicates("correlation")
    call = rt.set_index("correlation").reindex(dev["correlation"].to_numpy())
    launcher = host.loc[dev["launcher"].to_numpy()]
    # the launching op encloses the runtime call, which starts before its kernel runs
    assert (launcher["ts"].to_numpy() <= call["ts"].to_numpy()).all()
    assert (launcher["end"].to_numpy() >= call["end"].to_numpy()).all()
    assert (call["ts"].to_numpy() <= dev["ts"].to_numpy() + 1.0).all()
    assert (call["tid"].to_numpy() == launcher["tid"].to_numpy()).all()


@pytest.mark.parametrize("folder, names", [
    ("T04_hta_alexnet_a100", r"sgemm"), ("T11_hta_df_index_resolver", r"gemm|cutlass"),
    ("T08_hta_negqueue_rank0", r"sgemm|cutlass.*gemm|(?<!fb)gemm_"), ("T03_hta_mi250_rocm", r"^Cijk_")])
def test_gemm_kernels_land_in_gemm(folder, names):
    _t, ev = classified(trace(folder))
    k = ev[(ev["source"] == "kernel") & ev["name"].str.contains(names, regex=True)
           & ~ev["name"].str.contains("conv|fprop|dgrad|wgrad", case=False, regex=True)]
    assert len(k) and set(k["category"]) == {"gemm"}, k.groupby("category", observed=True)["name"].first()


def test_t04_gets_the_ceilings_of_its_40_gb_a100(tmp_path):
    """T04's GPU is "NVIDIA A100-PG509-200", a name that does not say its memory; its 39.4 GiB
    (deviceProperties) make it the 40 GB module, 1.555 TB/s, not the 80 GB one's 2.039 TB/s."""
    run = imported(run_cli("import-trace", str(trace("T04_hta_alexnet_a100")), "--out", str(tmp_path)))
    ceilings = json.loads((run / "manifest.json").read_text())["ceilings"]
    assert ceilings["datasheet_entry"] == "NVIDIA A100 SXM4 (40 GB)" and ceilings["bandwidth_bytes_s"] == 1.555e12


def test_t04_copies_attach_to_the_copy_op_not_to_an_unrelated_one():
    _t, ev = classified(trace("T04_hta_alexnet_a100"))
    memcpy = ev[(ev["source"] == "kernel") & ev["name"].str.startswith("Memcpy")]
    assert (memcpy["ancestors"].str.contains("aten::copy_|aten::to|aten::_to_copy", regex=True)).all()
    assert not memcpy["ancestors"].str.contains("empty_strided|aten::view|result_type", regex=True).any()


# ---- communication -------------------------------------------------------------------------------
@pytest.mark.parametrize("folder", ["T06_hta_nccl_data", "T07_hta_sampled_2rank", "T10_hta_tracediff_control",
                                    "T11_hta_df_index_resolver"])
def test_collectives_are_communication_never_other_or_a_gather(folder):
    _t, ev = classified(trace(folder))
    nccl = ev[ev["name"].str.contains(r"^(?:void )?nccl|^c10d::|^record_param_comms$|^nccl:", regex=True)]
    assert len(nccl) and set(nccl["category"]) == {"communication"}
    busy = ev[ev["source"] == "kernel"].groupby("category", observed=True)["gpu_busy_us"].sum()
    assert busy.get("communication", 0) > 0.05 * busy.sum()
    assert busy.get("other", 0.0) < 0.03 * busy.sum()   # Other held 27-85% of busy before


def test_all_gather_and_reduce_scatter_kernels_are_not_data_transform():
    tx = Taxonomy()
    for name in ("ncclDevKernel_AllGather_RING_LL(ncclDevComm*, unsigned long, ncclWork*)",
                 "ncclKernel_ReduceScatter_RING_LL_Sum_float(ncclWorkElem)", "ncclDevKernel_Generic_4(x)"):
        assert tx.classify("kernel", name, ("aten::index_select",)).category == "communication"
    for name in ("nccl:all_gather", "gloo:all_reduce", "c10d::_reduce_scatter_base_"):
        assert tx.classify("annotation" if ":" in name and "::" not in name else "op", name).category == "communication"


@pytest.mark.parametrize("name, category", [
    ("Cijk_Alik_Bljk_SB_Bias_AS_SAV_UserArgs_MT64x16x32_MI16x16x1_SN_LDSB0", "gemm"),
    ("_matmul_ogs_NNT_bf16xbf16xmxfp4_128x256x128x1_swiglu", "gemm"), ("attn_fwd", "gemm"),
    ("void ck_tile::kentry<256, 2, ck_tile::FmhaFwdKernel<x>>(x)", "gemm"), ("SubTensorOpWithScalar1d", "elementwise"),
    ("MIOpenBatchNormFwdTrainSpatial", "elementwise"), ("triton_per_fused_native_layer_norm_0", "elementwise"),
    ("triton__0d1d2d3d4d5d", "elementwise"), ("nvjet_hsh_256x128_64x4_2x1_v_bz_coopA_NNT", "gemm"),
    ("void cutlass::Kernel<cutlass_80_tensorop_s1688gemm_256x128_32x3_tn_align1>(x)", "gemm"),
    ("void flash::flash_fwd_kernel<Flash_fwd_kernel_traits<128, 64>>(Flash_fwd_params)", "gemm"),
    ("fmha_cutlassF_f32_aligned_64x64_rf_sm80(x)", "gemm"), ("rocblas_gemvt_kernel", "gemm"),
    # Kineto's 2020-21 ResNet-50 samples: cuDNN kernels launched before the ops were recorded
    ("void cudnn::bn_bw_1C11_kernel_new<float, float, float2, 512, true, 1>(float, float)", "elementwise"),
    ("void cudnn::ops::scalePackedTensor_kernel<float, float>(cudnnTensor4dStruct, float*, float)", "elementwise"),
    ("cask_cudnn::computeOffsetsKernel(cask_cudnn::ComputeOffsetsParams)", "conv"),
    # pytorch-trace-tui's test trace: cuDNN's layout change around a channels-last convolution
    ("nchwToNhwc", "data_transform"),
    ("void cudnn::ops::nhwcToNchwKernel<float, float, float, true, false, (cudnnKernelDataType_t)0>(x)", "data_transform"),
])
def test_kernel_names_without_a_launching_op(name, category):
    assert Taxonomy().classify("kernel", name).category == category


# ---- the CLI on combinations ---------------------------------------------------------------------
def test_cpu_only_trace_beside_gpu_traces_and_same_named_files(tmp_path):
    """A CPU-only trace with GPU traces crashed (median of text); two files named trace.json and
    two per-node rank0.json collided into one (workload, component, sample)."""
    files = []
    for run in ("runA", "runB"):
        (tmp_path / run).mkdir()
        files.append(tmp_path / run / "trace.json.gz")
        shutil.copy(trace("T13_hta_triton"), files[-1])
    for node in ("nodeA", "nodeB"):
        (tmp_path / node).mkdir()
        files.append(tmp_path / node / "rank0.json.gz")
        shutil.copy(trace("T01_hta_cpu_only"), files[-1])
    run = imported(run_cli("import-trace", *map(str, files), "--out", str(tmp_path / "out")))
    timings = pd.read_csv(run / "timings.csv")
    names = set(zip(timings["workload"], timings["component"]))
    assert names == {("imported", "runA-trace"), ("imported", "runB-trace"),
                     ("nodeA-rank34", "rank0"), ("nodeB-rank34", "rank0")}
    assert (run / "table.md").is_file() and (run / "report.html").is_file()
    table = (run / "table.md").read_text()
    assert "no device activity" in table and "GPU components" in table
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "ok" and len(manifest["imported"]) == 4


def test_ranks_of_one_job_are_not_added_up_and_the_straggler_is_named(tmp_path):
    job = shutil.copytree(EXTERNAL / "T07_hta_sampled_2rank", tmp_path / "job")   # a folder, as HTA reads it
    (job / "notes.txt").write_text("not a trace")
    run = imported(run_cli("import-trace", str(job), "--out", str(tmp_path)))
    assert [Path(f).name for f in json.loads((run / "manifest.json").read_text())["imported_traces"]] == [
        "sampled_rank-0.json.gz", "sampled_rank-1.json.gz"]
    timings = pd.read_csv(run / "timings.csv")
    assert sorted(timings["workload"]) == ["rank0", "rank1"] and sorted(timings["rank"]) == [0, 1]
    system = pd.read_csv(run / "system.csv")
    e2e = system[system["scope"] == "end_to_end"].set_index("workload")["time_s"]
    assert np.allclose(sorted(e2e), sorted(timings["wall_s"]))     # one rank each, never the sum
    table = (run / "table.md").read_text()
    ranks = table[table.index("## Ranks"):table.index("## Across ranks")]
    assert ranks.count("communication-bound") == 2                 # most GPU-busy time in NCCL
    across = table[table.index("## Across ranks"):].split("\n\n")[2]
    assert "rank 1" in across                                       # more compute than rank 0
    assert (timings["comm_s"] > 0).all() and (timings["comm_overlap_s"] < timings["comm_s"]).all()
    samples = pd.read_csv(run / "samples.csv")
    dev = samples[(samples["axis"] == "device") & (samples["category"] == "communication")]
    assert (dev["time_s"] > 0).all()


def test_profiler_steps_become_samples_after_the_warm_up(tmp_path):
    path = str(trace("T06_hta_nccl_data"))
    default = imported(run_cli("import-trace", path, "--out", str(tmp_path)))
    every = imported(run_cli("import-trace", path, "--out", str(tmp_path), "--warmup-steps", "0"))
    assert sorted(pd.read_csv(default / "timings.csv")["sample"]) == [5, 6]
    t = pd.read_csv(every / "timings.csv")
    assert sorted(t["sample"]) == [4, 5, 6]
    bd = pd.read_csv(every / "breakdown.csv")
    total = bd[bd["axis"] == "total"]
    assert int(total["n_samples"].iloc[0]) == 3 and float(total["std_s"].iloc[0]) > 0
    # each view of each step adds up to the step's wall time
    samples = pd.read_csv(every / "samples.csv")
    wall = samples[samples["axis"] == "total"].set_index("sample")["time_s"]
    for axis in ("category", "device", "bound"):
        part = samples[samples["axis"] == axis].groupby("sample")["time_s"].sum()
        np.testing.assert_allclose(part.loc[wall.index], wall, rtol=1e-9)
    proc = run_cli("import-trace", path, "--out", str(tmp_path), "--warmup-steps", "-1")
    assert proc.returncode == 2 and proc.stderr.startswith("nscharacterize: error: --warmup-steps")


def test_an_empty_last_step_is_not_a_sample(tmp_path):
    """T03 (ROCm) has ProfilerStep#1 with all the work and a 49 us ProfilerStep#2 that a last
    prof.step() opened: the work is the sample, not the empty range after it."""
    run = imported(run_cli("import-trace", str(trace("T03_hta_mi250_rocm")), "--out", str(tmp_path)))
    timings = pd.read_csv(run / "timings.csv")
    assert list(timings["sample"]) == [1] and int(timings["kernel_launches"].iloc[0]) == 14
    assert float(timings["wall_s"].iloc[0]) > 0.009
    notes = json.loads((run / "manifest.json").read_text())["imported"][0]["notes"]
    assert any("1 more held no op or kernel and were left out" in n for n in notes), notes


def test_what_cannot_be_read_is_said(tmp_path):
    """No kernel events (CUPTI range-profiler counters only) is a note in the manifest and table."""
    run = imported(run_cli("import-trace", str(trace("T05_hta_cupti_profiler")), "--out", str(tmp_path)))
    notes = json.loads((run / "manifest.json").read_text())["imported"][0]["notes"]
    assert any("no kernel, memcpy or memset events" in n for n in notes)
    assert "no kernel, memcpy or memset events" in (run / "table.md").read_text()


def test_a_rocm_trace_is_named_rocm_and_its_hip_calls_are_runtime_calls(tmp_path):
    """torch files an AMD GPU under "cuda": the report says rocm. Every runtime-category event is a
    runtime call, whatever its name (HIP's __hipPushCallConfiguration as much as hipLaunchKernel)."""
    run = imported(run_cli("import-trace", str(trace("T03_hta_mi250_rocm")), "--out", str(tmp_path)))
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["fingerprint"]["accelerator"] == "rocm"
    assert "\nDevice: rocm (AMD " in (run / "table.md").read_text()
    # ROCm named the GPU only "AMD Radeon Graphics": its properties (gfx90a, 104 CUs, 64 GiB) give the
    # datasheet row of the two parts they fit, whose peaks agree, so the roofline has its ceilings
    assert manifest["fingerprint"]["device_name"] == "AMD Instinct MI250 GCD or MI210"
    assert manifest["ceilings"]["peak_flops"]["float16"] == 181e12 and manifest["ceilings"]["bandwidth_bytes_s"] == 1.6e12
    assert any("names the GPU only 'AMD Radeon Graphics': taken as AMD Instinct MI250 GCD or MI210" in n
               for n in manifest["imported"][0]["notes"])
    t = chrome_trace.load(trace("T03_hta_mi250_rocm"))
    runtime = t.host.loc[t.host["source"] == "runtime", "name"]
    assert len(runtime) and runtime.str.contains("hip", case=False).all()


def test_kinetos_invalid_json_is_mended_and_said(tmp_path):
    """torch 1.8's Kineto wrote a zero-duration memcpy's bandwidth as a bare inf (pytorch/kineto#105)
    and could write N/A and raw control characters; an editor adds a byte-order mark. T14 (a 2021
    trace of that era) with all four is read exactly as the valid file is, and the note says what was
    mended. A file broken otherwise (a trailing comma, cut short) is still refused in one line."""
    import gzip

    text = gzip.decompress(trace("T14_kineto_tb_resnet50").read_bytes())
    bandwidth = re.compile(rb'"memory bandwidth \(GB/s\)": [0-9.e+-]+')
    broken = bandwidth.sub(rb'"memory bandwidth (GB/s)": inf', text, count=3)
    broken = broken.replace(rb'"context": 1,', rb'"context": N/A,', 2)
    broken = b"\xef\xbb\xbf" + broken.replace(b'"ProfilerStep#', b'"Profiler\tStep#', 1)
    assert broken.count(b": inf") == 3 and b"\t" in broken
    (tmp_path / "broken.json").write_bytes(broken)
    clean, mended = chrome_trace.load(trace("T14_kineto_tb_resnet50")), chrome_trace.load(tmp_path / "broken.json")
    assert not clean.repairs
    assert mended.repairs == ["a UTF-8 byte-order mark (dropped)", "5 bare inf, nan or N/A value(s) (read as missing)",
                              "raw control characters inside names (read as spaces)"]
    for table in ("host", "device"):
        a, b = getattr(clean, table), getattr(mended, table)
        pd.testing.assert_frame_equal(a.drop(columns="name"), b.drop(columns="name"))
        assert (a["name"] != b["name"]).sum() == (1 if table == "host" else 0)
    run = imported(run_cli("import-trace", str(tmp_path / "broken.json"), "--out", str(tmp_path / "out")))
    notes = json.loads((run / "manifest.json").read_text())["imported"][0]["notes"]
    assert any(n.startswith("not valid JSON; read after mending a UTF-8 byte-order mark") for n in notes)
    for name, data in (("comma.json", text.rstrip()[:-1].rstrip()[:-1] + b",]}"), ("cut.json", text[: len(text) // 2])):
        (tmp_path / name).write_bytes(data)
        proc = run_cli("import-trace", str(tmp_path / name), "--out", str(tmp_path / "refused"))
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "invalid JSON" in proc.stderr and name in proc.stderr


def test_mtia_activity_is_reported_as_not_modelled():
    from nscharacterize.import_trace import _unread_notes

    t = chrome_trace.load(trace("T12_hta_mtia"))
    assert t.device.empty and t.unread.get("mtia_ccp_events", 0) > 20_000
    notes = _unread_notes(t)
    assert any(n.startswith("MTIA accelerator activity") for n in notes)


def test_import_trace_does_not_import_torch():
    code = "import sys, nscharacterize.import_trace, nscharacterize.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_event_rows_share_one_string_per_distinct_text():
    """A trace repeats a few thousand names, ancestor chains and shapes 10^5 times: the rows keep
    one Python string per distinct text (object columns), where pandas' string dtype copied every
    row's text (T11: peak memory of the whole import 385 -> 319 MiB, below HTA's 334)."""
    t = chrome_trace.load(trace("T11_hta_df_index_resolver"))
    rows, _facts = trace_events.rows(t, "cuda")
    assert len(rows) > 100_000
    for col in ("name", "ancestors", "children", "input_shapes", "input_dtypes", "concrete_inputs"):
        values = rows[col]
        assert values.dtype == object, col
        assert len({id(v) for v in values}) == values.nunique(), col
    assert t.host["ancestors"].dtype == object and t.host["children"].dtype == object


def test_import_vs_hta_benchmark_times_the_whole_command_on_a_tiny_trace():
    tiny = trace("T13_hta_triton")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "import_vs_hta.py"), "--traces", str(tiny.parent),
                           "--repeats", "1", "--skip-breakdown", "--hta-python", ""],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "import-trace, whole" in proc.stdout and "torch imported: False" in proc.stdout


def test_import_vs_hta_benchmark_times_every_trace_of_a_folder(tmp_path):
    """--every: one row per trace file or per folder of rank files (imported together), each
    measured by a real import-trace command."""
    tiny = trace("T13_hta_triton")
    job = tmp_path / "two_ranks"
    job.mkdir()
    for rank in (0, 1):
        shutil.copy(tiny, job / f"rank{rank}.json.gz")
    shutil.copy(tiny, tmp_path / "alone.json.gz")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "import_vs_hta.py"), "--every", str(tmp_path),
                           "--repeats", "1", "--hta-python", ""], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"\| alone \| 1 \| [\d.]+ \| [\d.]+ \| \d+ \| not run", proc.stdout), proc.stdout
    assert re.search(r"\| two_ranks \| 2 \| [\d.]+ \| [\d.]+ \| \d+ \| not run", proc.stdout), proc.stdout


def test_python_stack_events_break_down_the_time_outside_ops(tmp_path):
    """A with_stack trace (written here by torch.profiler on the CPU): the time no op covers is
    split among the innermost Python functions, and nothing is counted twice."""
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU())
    x = torch.randn(4, 16)

    def python_loop():
        total = 0
        for i in range(20_000):
            total += i * i
        return total

    scene = [{"color": ("red", "blue")[i % 2], "size": i} for i in range(2_000)]

    def filter_objects(objects):   # a symbolic executor's feature query, in pure Python
        return [o for o in objects if o["color"] == "red" and o["size"] > 10]

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], with_stack=True) as prof:
        for _ in range(3):   # ops first: the traced span starts at the first op, so each loop lies inside it
            model(x).sum()
            python_loop()
            filter_objects(scene)
        model(x).sum()
    path = tmp_path / "stack.json"
    prof.export_chrome_trace(str(path))
    t = chrome_trace.load(path)
    outside = trace_events.python_outside_ops_us(t)
    # per thread, never more than the span: the test's own thread, and any other thread Python
    # ran meanwhile (under pytest-xdist, execnet's), whose functions torch records as well
    per_thread = pd.Series(outside, index=t.python.index).groupby(t.python["tid"]).sum()
    host_top = t.host[t.host["parent"] < 0].groupby("tid")["dur"].sum()
    for tid, own in per_thread.items():
        assert own + host_top.get(tid, 0.0) <= t.wall_us * (1 + 1e-6), tid
    loop = t.python.assign(outside=outside)
    loop = loop[loop["name"].str.endswith("python_loop")]
    # the loop's own code runs no op: (nearly) all of its time is its own, outside ops
    assert len(loop) == 3 and (loop["outside"] >= 0.5 * loop["dur"]).all()

    run = imported(run_cli("import-trace", str(path), "--out", str(tmp_path)))
    ev = pd.read_parquet(run / "events.parquet")
    assert ev[ev["source"] == "python"]["self_cpu_us"].sum() == pytest.approx(outside.sum(), rel=1e-6)
    bd = pd.read_csv(run / "breakdown.csv")
    split = bd[bd["axis"] == "other_split"].set_index("category")["time_s"]
    assert split["outside_ops"] < 0.2 * split.sum()     # the rest of Other is now in Python functions
    assert (bd["axis"] == "python").any()
    # torch names a stack event "path.py(line): function" or "<built-in function len>"; they are
    # read in cProfile's form, so the python rules give the executor's function its Fig. 7 category
    py = ev[ev["source"] == "python"].groupby("name", observed=True)["subcategory"].first()
    (query,) = [n for n in py.index if n.endswith(":filter_objects")]
    assert py[query] == "feature_query", py[query]
    assert [n for n in py.index if n.startswith("builtin:builtins.")], sorted(py.index)[:40]   # iter, len, ...
    assert not [n for n in py.index if re.fullmatch(r".+\(\d+\): .+|<built-in .+>", n)], sorted(py.index)[:40]


@pytest.mark.parametrize("raw, name", [
    ("torch/nn/modules/module.py(1787): _call_impl", "torch.nn.modules.module:_call_impl"),
    ("torch/cuda/__init__.py(1040): synchronize", "torch.cuda:synchronize"),   # a package, as cProfile names it
    ("<frozen os>(674): __getitem__", "os:__getitem__"),
    ("/home/me/exec.py(33): filter_objects", "exec:filter_objects"),   # outside sys.path: the file's name
    ("<built-in function isinstance>", "builtin:builtins.isinstance"),
    ("<built-in function _has_torch_function_unary>", "builtin:_has_torch_function_unary"),   # no module said
    ("<built-in method encode of str object at 0x7f576ff1f6e0>", "builtin:str.encode"),
    ("<method 'append' of 'list' objects>", "builtin:list.append"),
    ("nn.Module: Linear_0", "nn.Module: Linear_0"),
])
def test_python_stack_event_names_read_as_cprofile_names_them(raw, name):
    assert traced_name(raw) == name


@pytest.mark.parametrize("func, name", [
    ("<built-in method builtins.len>", "builtin:builtins.len"),
    ("<built-in method torch.add>", "builtin:torch.add"),
    ("<method 'get' of 'dict' objects>", "builtin:dict.get"),
    ("<built-in method now>", "builtin:now"),
    ("<built-in method encode of str object at 0x7f576ff1f6e0>", "builtin:str.encode"),   # no address kept
    ("<something else>", "builtin:<something else>"),
])
def test_cprofile_c_function_names_have_one_form_whatever_object_they_ran_on(func, name):
    assert function_name("~", func, {}) == name


def test_a_folder_without_traces_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "log.txt").write_text("x")
    proc = run_cli("import-trace", str(tmp_path / "empty"), "--out", str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "no .json or .json.gz file in it" in proc.stderr and "folder that holds them" in proc.stderr
    assert not any(p.is_dir() and p.name.startswith("import") for p in tmp_path.iterdir())
