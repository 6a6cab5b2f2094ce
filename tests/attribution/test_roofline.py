"""Ceilings (measured, cached, datasheet), the roofline maths, the GPU time path on the real H100
run, and the whole thing through the CLI with embedding models of our own."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clirun import ROOT, printed_dir, run_cli, write_config

from nscharacterize.attribution.roofline import op_costs, roofline
from nscharacterize.profiler import ceilings as ceil
from nscharacterize.profiler.torch_compat import events_are_lazy
from nscharacterize.profiler.environment import fingerprint
from nscharacterize.profiler.events import events_frame
from nscharacterize.taxonomy.classifier import Taxonomy

H100_RUN = ROOT.parent / "shared" / "fixtures" / "gpu-h100" / "quickstart-run"


# ---- ceilings -------------------------------------------------------------------------------------
def test_ceilings_are_measured_once_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NSCHARACTERIZE_CACHE", str(tmp_path))
    fp = fingerprint("cpu", "x")
    first = ceil.measured_ceilings(fp, ["float32"], "cpu")
    assert first["source"] == "measured" and first["peak_flops"]["float32"] > 1e8
    assert first["bandwidth_bytes_s"] > 1e8
    cache = Path(first["cache_file"])
    assert cache.parent == tmp_path and cache.is_file()
    # A second call must not measure again: plant a value in the cache and get it back.
    data = json.loads(cache.read_text())
    data["peak_flops"]["float32"] = 123.0
    cache.write_text(json.dumps(data))
    assert ceil.measured_ceilings(fp, ["float32"], "cpu")["peak_flops"]["float32"] == 123.0
    # Another machine configuration (threads) is another cache entry.
    assert ceil.machine_hash(dict(fp, threads=fp["threads"] + 1)) != ceil.machine_hash(fp)
    assert ceil.machine_hash(dict(fp, config_hash="other")) == ceil.machine_hash(fp)


def test_datasheet_ceilings_by_device_name():
    h100 = ceil.datasheet_ceilings("NVIDIA H100 80GB HBM3")
    assert h100["source"] == "datasheet" and "SXM" in h100["datasheet_entry"]
    assert h100["bandwidth_bytes_s"] == 3.35e12 and h100["peak_flops"]["float32"] == 67e12
    assert "PCIe" in ceil.datasheet_ceilings("NVIDIA H100 PCIe")["datasheet_entry"]
    assert ceil.datasheet_ceilings("NVIDIA H200")["bandwidth_bytes_s"] == 4.8e12
    assert ceil.datasheet_ceilings("NVIDIA A100-SXM4-40GB")["bandwidth_bytes_s"] == 1.555e12
    assert ceil.datasheet_ceilings("Tesla T4")["peak_flops"]["float32"] == 8.1e12
    assert ceil.datasheet_ceilings("Tesla M40 24GB")["bandwidth_bytes_s"] == 0.288e12
    # torch's names of the Pascal GP100 boards (cudaDeviceProp.name)
    assert ceil.datasheet_ceilings("Quadro GP100")["peak_flops"]["float32"] == 10.3e12
    assert ceil.datasheet_ceilings("Tesla P100-PCIE-12GB")["bandwidth_bytes_s"] == 0.549e12
    assert ceil.datasheet_ceilings("Tesla P100-PCIE-16GB")["peak_flops"]["float64"] == 4.7e12
    assert ceil.datasheet_ceilings("Tesla P100-SXM2-16GB")["peak_flops"]["float16"] == 21.2e12
    assert ceil.datasheet_ceilings("Some Future GPU") is None
    # AMD Instinct, Blackwell and consumer parts, as torch names them
    assert ceil.datasheet_ceilings("AMD Instinct MI300X")["bandwidth_bytes_s"] == 5.3e12
    assert "GCD" in ceil.datasheet_ceilings("AMD Instinct MI250X / MI250")["datasheet_entry"]
    assert ceil.datasheet_ceilings("AMD Instinct MI210")["peak_flops"]["float16"] == 181e12
    assert ceil.datasheet_ceilings("AMD Instinct MI325X")["bandwidth_bytes_s"] == 6.0e12   # not the MI300X's 5.3
    both = ceil.datasheet_ceilings("AMD Instinct MI250 GCD or MI210")   # name_from_properties' name for gfx90a, 104 CUs
    assert "MI250 GCD or MI210" in both["datasheet_entry"] and both["peak_flops"]["float64"] == 45.3e12
    assert ceil.datasheet_ceilings("NVIDIA B200")["peak_flops"]["bfloat16"] == 2250e12
    assert ceil.datasheet_ceilings("NVIDIA GeForce RTX 4090")["peak_flops"]["float32"] == 82.6e12
    assert ceil.datasheet_ceilings("NVIDIA GeForce RTX 3090")["bandwidth_bytes_s"] == 0.936e12
    # the 4090 D (a torch.compile trace of Wings236/model_inference) is not a full 4090
    assert ceil.datasheet_ceilings("NVIDIA GeForce RTX 4090 D")["peak_flops"]["float32"] == 73.5e12
    # as PARAM's test traces name a Turing card (no bfloat16 on it)
    assert ceil.datasheet_ceilings("NVIDIA GeForce RTX 2080 Ti")["peak_flops"] == {
        "float64": 0.42e12, "float32": 13.4e12, "float16": 53.8e12}
    assert ceil.datasheet_ceilings("NVIDIA A10")["datasheet_entry"] == "NVIDIA A10"
    assert ceil.datasheet_ceilings("NVIDIA L4")["datasheet_entry"] == "NVIDIA L4"
    # a name that does not say the part's memory: deviceProperties' totalGlobalMem does (T04: 39.4 GiB)
    assert ceil.datasheet_ceilings("NVIDIA A100-PG509-200", 42297524224)["bandwidth_bytes_s"] == 1.555e12
    assert ceil.datasheet_ceilings("NVIDIA PG509-210", 85198045184)["datasheet_entry"] == "NVIDIA A100 SXM4 (80 GB)"
    assert ceil.datasheet_ceilings("NVIDIA GH200", 150e9)["bandwidth_bytes_s"] == 4.9e12
    assert ceil.datasheet_ceilings("NVIDIA H100 80GB HBM3", 42e9)["bandwidth_bytes_s"] == 3.35e12  # the name decides
    # Intel's GPUs as torch's XPU backend names them: a Max 1550 device is one of its two stacks
    pvc = ceil.datasheet_ceilings("Intel(R) Data Center GPU Max 1550")
    assert "one stack" in pvc["datasheet_entry"] and pvc["bandwidth_bytes_s"] == 1.6384e12
    assert ceil.datasheet_ceilings("Intel(R) Data Center GPU Max 1100")["peak_flops"]["float32"] == 22.2e12
    # DeepSeek's profile-data traces: the H100's tensor rates, its FP64 cut to 1 TF
    h800 = ceil.datasheet_ceilings("NVIDIA H800")
    assert "H800" in h800["datasheet_entry"] and h800["peak_flops"]["float64"] == 1e12
    assert h800["peak_flops"]["bfloat16"] == 989e12 and h800["bandwidth_bytes_s"] == 3.35e12
    assert ceil.datasheet_ceilings("NVIDIA H800 PCIe") is None   # not in the table: no guess
    # a GH200 is not an H200 (kernelforge's trace names "NVIDIA GH200 480GB": 96 GB of HBM3)
    assert ceil.datasheet_ceilings("NVIDIA GH200 480GB")["bandwidth_bytes_s"] == 4.0e12
    assert ceil.datasheet_ceilings("NVIDIA GH200 144G HBM3e")["bandwidth_bytes_s"] == 4.9e12


# ---- the maths ------------------------------------------------------------------------------------
def _events(rows):
    base = {"workload": "w", "component": "c", "kind": "neural", "sample": 0, "source": "op", "device": "cpu",
            "ancestors": "", "children": "", "calls": 1, "self_device_us": 0.0, "concrete_inputs": "",
            "flops": 0.0, "bytes": 0.0}
    return Taxonomy().classify_events(events_frame([dict(base, **r) for r in rows]))


def _breakdown(times: dict, n=1):
    rows = [{"workload": "w", "component": "c", "kind": "neural", "device": "cpu", "axis": "category",
             "category": cat, "time_s": t, "n_samples": n} for cat, t in times.items()]
    rows.append({"workload": "w", "component": "c", "kind": "neural", "device": "cpu", "axis": "total",
                 "category": "total", "time_s": sum(times.values()), "n_samples": n})
    return pd.DataFrame(rows)


def test_roofline_rows_against_hand_computed_values():
    # a 64x64x64 GEMM (2*64^3 FLOPs, 3*64*64*4 bytes) in 1 ms; a 1 MiB copy in 2 ms
    ev = _events([
        {"name": "aten::mm", "input_shapes": "[[64, 64], [64, 64]]", "input_dtypes": "float,float",
         "self_cpu_us": 900.0},
        {"name": "aten::mm", "input_shapes": "[[1024, 8], [8, 64]]", "input_dtypes": "float,float",
         "self_cpu_us": 100.0},
        {"name": "aten::copy_", "input_shapes": "[[262144], [262144], []]", "input_dtypes": "float,float,Scalar",
         "self_cpu_us": 2000.0},
        {"name": "aten::linalg_svd", "input_shapes": "[[4, 4]]", "input_dtypes": "float", "self_cpu_us": 500.0},
    ])
    ceilings = {"source": "measured", "peak_flops": {"float32": 1e10}, "bandwidth_bytes_s": 1e9}
    table, unsized = roofline(ev, _breakdown({"gemm": 1e-3, "data_movement": 2e-3}), ceilings)
    g = table.set_index("category").loc["gemm"]
    flops = 2 * 64 ** 3 + 2 * 1024 * 64 * 8
    nbytes = 4 * 3 * 64 * 64 + 4 * (1024 * 8 + 8 * 64 + 1024 * 64)
    assert g["flops"] == flops and g["bytes"] == nbytes
    assert g["intensity"] == pytest.approx(flops / nbytes)
    assert g["achieved_flops_s"] == pytest.approx(flops / 1e-3)
    assert g["ridge"] == pytest.approx(10.0)
    assert g["bound_flops_s"] == pytest.approx(min(1e10, flops / nbytes * 1e9))
    assert g["fraction_of_bound"] == pytest.approx(max(flops / 1e10, nbytes / 1e9) / 1e-3)
    assert g["bound"] == "memory"                                  # intensity ~2.6 < ridge 10
    assert g["tall_skinny_share"] == pytest.approx(0.1)          # the k=8 product: 100 of 1000 us
    d = table.set_index("category").loc["data_movement"]
    assert d["flops"] == 0 and d["bytes"] == 2 * 1048576
    assert d["fraction_of_bound"] == pytest.approx(2 * 1048576 / 1e9 / 2e-3)
    assert d["bound"] == "memory"
    # svd has no model: counted and listed with its share of GEMM op time, never guessed
    assert g["unsized_share"] == pytest.approx(500 / 1500)
    assert list(unsized["name"]) == ["aten::linalg_svd"]


def test_time_inside_a_sparse_product_is_unsized_time():
    ev = _events([
        {"name": "aten::_sparse_addmm", "input_shapes": "[[8, 4], [8, 8], [8, 4], [], []]",
         "input_dtypes": "float,float,float,Scalar,Scalar", "self_cpu_us": 10.0},
        {"name": "aten::addmm", "ancestors": "aten::_sparse_addmm", "input_shapes": "[[3, 4], [3, 1], [1, 4], [], []]",
         "input_dtypes": "float,float,float,Scalar,Scalar", "self_cpu_us": 30.0},
    ])
    ceilings = {"source": "measured", "peak_flops": {"float32": 1e10}, "bandwidth_bytes_s": 1e9}
    table, unsized = roofline(ev, _breakdown({"sparse_mm": 4e-5}), ceilings)
    row = table.set_index("category").loc["sparse_mm"]
    assert row["flops"] == 0 and row["unsized_share"] == 1.0     # never sized as if it were dense
    assert list(unsized["name"]) == ["aten::_sparse_addmm"]


def test_old_runs_without_ceilings_still_get_rows():
    ev = _events([{"name": "aten::add", "input_shapes": "[[4], [4], []]", "input_dtypes": "float,float,Scalar",
                   "self_cpu_us": 5.0}])
    table, _ = roofline(ev, _breakdown({"elementwise": 5e-6}), None)
    row = table.iloc[0]
    assert row["flops"] == 4 and np.isnan(row["fraction_of_bound"]) and row["bound"] == ""


@pytest.mark.skipif(not (H100_RUN / "events.parquet").is_file(), reason="H100 fixture not present")
def test_gpu_rows_take_the_kernel_time_of_the_ops_they_launched():
    ev = pd.read_parquet(H100_RUN / "events.parquet")
    ev = ev[ev["workload"] == "mlp-demo"]
    oc = op_costs(ev)
    kernels = ev[(ev["source"] == "kernel") & (ev["ancestors"] != "")]
    assert oc["t_us"].sum() == pytest.approx(kernels["self_device_us"].sum(), rel=1e-9)
    # that run's torch did not record dtypes: its rows are unsized, with the reason, not guessed
    assert any(r.startswith("input dtypes were not recorded") for r in set(oc["reason"]))
    bd = pd.read_csv(H100_RUN / "breakdown.csv")
    table, unsized = roofline(ev, bd, ceil.datasheet_ceilings("NVIDIA H100 80GB HBM3"))
    assert len(table) and (table["ceilings"] == "datasheet").all()
    assert len(unsized)


# ---- end to end through the CLI -------------------------------------------------------------------
@pytest.fixture(scope="module")
def embedding_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("emb")
    cfg = write_config(tmp / "emb.yaml", samples=1, workloads=[
        {"workload": "user_models:embedding_lookup", "name": "lookup", "params": {"tokens": 2048}},
        {"workload": "user_models:embedding_lookup", "name": "padded", "params": {"tokens": 2048, "padding_idx": 0}},
        {"workload": "user_models:embedding_bag_offsets", "name": "bag", "params": {"tokens": 2048}},
        {"workload": "user_models:tiny_cnn", "name": "cnn"},
    ])
    proc = run_cli("run", str(cfg), "--out", str(tmp / "runs"), "--quiet",
                   env={"NSCHARACTERIZE_CACHE": str(tmp / "cache")})
    assert proc.returncode == 0, proc.stderr
    return printed_dir(proc)


def test_embedding_lookups_are_embedding(embedding_run):
    ev = pd.read_parquet(embedding_run / "events.parquet")
    for workload in ("lookup", "padded", "bag"):
        ops = ev[(ev["workload"] == workload) & (ev["source"] == "op")]
        inside = ops[ops["ancestors"].astype(str).str.contains("embedding")]
        assert len(inside) and set(inside["category"]) == {"embedding"}, inside[["name", "category"]]
        assert "aten::index_select" in set(inside["name"]) or workload == "bag"
    bd = pd.read_csv(embedding_run / "breakdown.csv")
    cats = bd[bd["axis"] == "category"].set_index(["workload", "category"])["time_s"]
    for workload in ("lookup", "padded", "bag"):
        assert cats[(workload, "embedding")] > 10 * cats[(workload, "data_transform")]


def test_roofline_outputs_and_report_rerenders_them(embedding_run):
    manifest = json.loads((embedding_run / "manifest.json").read_text())
    assert manifest["ceilings"]["source"] == "measured" and manifest["ceilings"]["peak_flops"]["float32"] > 0
    table = pd.read_csv(embedding_run / "roofline.csv")
    emb = table[(table["workload"] == "lookup") & (table["category"] == "embedding")].iloc[0]
    assert emb["bytes"] == 2048 * 8 + 2 * 2048 * 64 * 4 and emb["flops"] == 0 and emb["bound"] == "memory"
    conv = table[(table["workload"] == "cnn") & (table["category"] == "conv")].iloc[0]
    assert conv["flops"] == 2 * 8 * 32 * 32 * 3 * 9                # Conv2d(3, 8, 3, padding=1) on 32x32
    page = (embedding_run / "report.html").read_text()
    assert "operational intensity (FLOP" in page and not (embedding_run / "roofline.png").exists()
    text = (embedding_run / "table.md").read_text()
    assert "## Roofline" in text and "Ceilings (measured on" in text
    (embedding_run / "roofline.csv").unlink()
    proc = run_cli("report", str(embedding_run), "--png")
    assert proc.returncode == 0, proc.stderr
    again = pd.read_csv(embedding_run / "roofline.csv")
    pd.testing.assert_frame_equal(again, table)
    drawn = (embedding_run / "roofline.png").stat().st_mtime_ns
    proc = run_cli("report", str(embedding_run))     # once drawn, a plain report keeps the PNGs up to date
    assert proc.returncode == 0, proc.stderr
    assert (embedding_run / "roofline.png").stat().st_mtime_ns > drawn


def test_the_roofline_sizes_distinct_ops_not_ops_times_samples(tmp_path, monkeypatch):
    """Rows of one op in different samples are added before sizing (issue 23: at 10,000 samples the
    per-row frames were most of a run's peak memory); the roofline is the same either way."""
    from nscharacterize.attribution import roofline as module
    from nscharacterize.rundir.store import RunDir

    cfg = write_config(tmp_path / "c.yaml", samples=5)
    proc = run_cli("run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    run = RunDir(printed_dir(proc))
    events, breakdown, ceilings = run.events(), run.breakdown(), run.manifest.get("ceilings")
    summed = module.summed_over_samples(events)
    assert events["sample"].nunique() == 5 and set(summed["sample"]) == {-1}
    # 5 samples of the same ops: at least 4x fewer rows (torch 2.3's whole-microsecond times make
    # a tiny op's nesting, the rows' children key, differ between samples: 3x there)
    fewer = 4 if events_are_lazy() else 3
    assert len(summed) * fewer <= len(events) and summed["calls"].sum() == events["calls"].sum()
    table, unsized = roofline(events, breakdown, ceilings)
    monkeypatch.setattr(module, "summed_over_samples", lambda frame: frame)   # per sample, as before
    per_sample, per_sample_unsized = roofline(events, breakdown, ceilings)
    assert len(table) > 0 and table["flops"].sum() > 0
    pd.testing.assert_frame_equal(table, per_sample, rtol=1e-9)
    pd.testing.assert_frame_equal(unsized, per_sample_unsized, rtol=1e-9)


def test_events_summed_as_they_are_read_give_the_same_roofline_and_page(tmp_path, monkeypatch):
    """The end of a run and `report` read events a row group at a time and sum each over samples
    (results.view_events), so memory holds the distinct ops, not every sample: the roofline, the
    FLOPs check and the page's per-sample numbers are those of the whole frame read at once;
    device rows (an H100 run's) keep their samples."""
    from nscharacterize.attribution import roofline as module
    from nscharacterize.attribution.derive import derive_views
    from nscharacterize.reports.html_run import run_page
    from nscharacterize.results import view_events
    from nscharacterize.rundir import samplelog
    from nscharacterize.rundir.store import RunDir

    monkeypatch.setattr(samplelog, "ROW_GROUP_ROWS", 64)   # several row groups, several batches
    cfg = write_config(tmp_path / "c.yaml", samples=6)
    proc = run_cli("run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    run = RunDir(printed_dir(proc))
    # the run (a subprocess) wrote its own row groups; rewrite them small, here
    import pyarrow.parquet as pq
    pq.write_table(pq.read_table(run.path / "events.parquet"), run.path / "events.parquet", row_group_size=64)
    events = run.events()
    batches = list(run.event_batches())
    assert len(batches) > 2 and sum(len(b) for b in batches) == len(events)
    pd.testing.assert_frame_equal(pd.concat(batches, ignore_index=True), events)
    summed = view_events(run)
    assert set(summed["sample"]) == {-1} and len(summed) < len(events) / 3
    args = (run.samples(), run.breakdown(), run.timings())
    whole, batched = (derive_views(*args, ev, run.manifest.get("ceilings")) for ev in (events, summed))
    pd.testing.assert_frame_equal(whole.roofline.table, batched.roofline.table, rtol=1e-9)
    pd.testing.assert_frame_equal(whole.roofline.unsized, batched.roofline.unsized, rtol=1e-9)
    pd.testing.assert_frame_equal(whole.roofline.torch_flops, batched.roofline.torch_flops, rtol=1e-9)
    # the page: the classification table's per-sample columns, from the summed frame and the whole
    # (equal but for summing order)
    # (figure and table ids count up in a process; the footer's time may cross a minute between the two)
    pages = [re.sub(r"\b(fig|t)\d+", r"\1N", re.sub(r"Made by nscharacterize on [^;]*;", "", run_page(run, views, ev)))
             for views, ev in ((whole, events), (batched, summed))]
    texts, shown = zip(*((re.sub(NUMBER, "#", page), re.findall(NUMBER, page)) for page in pages))
    assert "calls_per_sample" in texts[0] and texts[0] == texts[1]
    # a number shown to a few digits may round the other way (0.6695 summed in another order reads
    # 0.67 or 0.669): few differ, each by at most one unit of its last digit shown
    differ = [(x, y) for x, y in zip(*shown) if x != y]
    assert len(differ) < len(shown[0]) / 1000, differ[:5]
    off = [(x, y) for x, y in differ if not abs(float(x) - float(y)) <= max(_last_digit(x), _last_digit(y)) * (1 + 1e-9)]
    assert not off, off[:5]

    h100 = [p / "quickstart-run" / "events.parquet" for p in (d / "shared" / "fixtures" / "gpu-h100" for d in ROOT.parents)
            if (p / "quickstart-run" / "events.parquet").is_file()]
    if h100:   # device rows keep their samples; the host rows of other workloads are summed
        device = pd.read_parquet(h100[0])
        mixed = module.summed_batches([events.iloc[:100], device, events.iloc[100:]])
        on_device = device[device["device"].astype(str) == "cuda"]
        assert len(on_device) > 1000 and len(mixed[mixed["device"].astype(str) == "cuda"]) == len(on_device)
        assert set(mixed.loc[mixed["device"].astype(str) != "cuda", "sample"]) == {-1}


NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def _last_digit(text: str) -> float:
    """One unit of the last digit of a number as shown ("0.669" -> 0.001, "1.5e-05" -> 1e-06)."""
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** max(-300, min(300, int(exponent or 0) - decimals))   # (a hex id can read 4e8123)
