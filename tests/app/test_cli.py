"""The CLI in subprocesses: every command a user types, and every bad input we promise to catch."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from clirun import ROOT, printed_dir, run_cli, write_config

EXPECTED_FILES = ["config.yaml", "manifest.json", "events.parquet", "timings.csv", "samples.csv",
                  "breakdown.csv", "checks.csv", "table.md", "run.log", "report.html"]
PNGS = ("heatmap.png", "breakdown.png", "python_breakdown.png", "system.png", "roofline.png")


def test_run_writes_every_output(demo_run):
    for name in EXPECTED_FILES:
        assert (demo_run / name).is_file(), name
    manifest = json.loads((demo_run / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert manifest["fingerprint"]["torch"] == torch.__version__
    from nscharacterize.core.version import tool_version
    from nscharacterize.taxonomy.classifier import Taxonomy

    # which version measured it, and which rules classified it (the built-in ones: no rule file of its own)
    assert manifest["fingerprint"]["nscharacterize"] == tool_version() != "unknown"
    assert manifest["fingerprint"]["rules"] == Taxonomy().digest
    assert manifest["checks"]["addup_ok"] is True
    assert [w["status"] for w in manifest["workloads"]] == ["ok"]
    table = (demo_run / "table.md").read_text()
    assert "| mlp-demo | encoder | neural |" in table and "Data Movement" in table


def test_run_prints_table_and_samples_override(tmp_path):
    cfg = write_config(tmp_path / "c.yaml")
    proc = run_cli("run", str(cfg), "--out", str(tmp_path), "--samples", "1", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert "mlp-demo / encoder" in proc.stdout and "Total" in proc.stdout
    run_dir = printed_dir(proc)
    timings = pd.read_csv(f"{run_dir}/timings.csv")
    assert set(timings["sample"]) == {0}


def test_report_rerenders_from_run_dir_alone(demo_run, tmp_path):
    assert not [n for n in PNGS if (demo_run / n).exists()]   # report.html draws the figures itself
    run = shutil.copytree(demo_run, tmp_path / "run")
    (run / "table.md").unlink()
    proc = run_cli("report", str(run), "--reclassify", "--png")
    assert proc.returncode == 0, proc.stderr
    for name in ("table.md", *PNGS):
        assert (run / name).stat().st_size > 0, name
    assert "encoder" in proc.stdout


@pytest.mark.parametrize("name,category", [
    ("aten::addmm", "gemm"), ("aten::softmax", "elementwise"), ("aten::cat", "data_movement"),
    ("aten::index", "data_transform"), ("aten::upsample_bilinear2d", "regional"),
    ("torchvision::roi_align", "regional"), ("aten::embedding", "embedding"),
    ("Memcpy HtoD (Pageable -> Device)", "data_movement"),
    ("void cutlass::Kernel2<cutlass_80_tensorop_s1688gemm_128x128>", "gemm"),
])
def test_explain(name, category):
    proc = run_cli("explain", name)
    assert proc.returncode == 0, proc.stderr
    assert f"category:  {category}" in proc.stdout
    assert "reason:" in proc.stdout


def test_explain_within_and_python():
    proc = run_cli("explain", "aten::addmm", "--within", "aten::mm,aten::_sparse_addmm")
    assert "category:  sparse_mm" in proc.stdout
    proc = run_cli("explain", "json.decoder:raw_decode")
    assert "parsing_io" in proc.stdout


def test_explain_annotation_ranges():
    proc = run_cli("explain", "Optimizer.step#Adam.step")  # guessed: a record_function range
    assert proc.returncode == 0, proc.stderr
    assert "as:        annotation" in proc.stdout and "rule:      optimizer-range" in proc.stdout
    proc = run_cli("explain", "nmn.module_call", "--as", "annotation")
    assert "rule:      user-range" in proc.stdout


def test_taxonomy_coverage():
    proc = run_cli("taxonomy", "--coverage")
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.splitlines()[0]
    assert line.startswith("ATen ops registered in torch:")
    pct = float(line.rsplit("(", 1)[1].rstrip("%)"))
    assert pct >= 95.0, line
    assert "gemm" in proc.stdout and "without a rule" in proc.stdout


def test_list_shows_workloads_and_params():
    proc = run_cli("list")
    assert proc.returncode == 0, proc.stderr
    assert "mlp-demo" in proc.stdout and "objects" in proc.stdout and "default" in proc.stdout


def _one_line_error(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if not ln.startswith(("USDT", "STAGE"))]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_bad_inputs_give_one_line_and_exit_2(tmp_path):
    _one_line_error(run_cli("run", str(tmp_path / "nope.yaml")), "nope.yaml", "no such config")
    bad = tmp_path / "bad.yaml"
    bad.write_text("workloads: [\n  - {workload: mlp-demo\n")
    _one_line_error(run_cli("run", str(bad)), "bad.yaml", "invalid YAML", "line")
    _one_line_error(run_cli("run", str(write_config(tmp_path / "k.yaml", sampels=3))),
                    "k.yaml", "sampels", "unknown key", "samples")
    _one_line_error(run_cli("run", str(write_config(tmp_path / "t.yaml", samples="many"))),
                    "t.yaml", "samples", "integer")
    _one_line_error(run_cli("run", str(write_config(tmp_path / "w.yaml", workloads=[{"workload": "nope"}]))),
                    "w.yaml", "workloads[0].workload", "nope", "mlp-demo")
    _one_line_error(run_cli("run", str(write_config(
        tmp_path / "p.yaml", workloads=[{"workload": "mlp-demo", "params": {"objcts": 3}}]))),
        "p.yaml", "workloads[0].params.objcts", "unknown key", "objects")
    _one_line_error(run_cli("run", str(write_config(tmp_path / "d.yaml", device="tpu"))), "d.yaml", "device")
    _one_line_error(run_cli("run", str(write_config(tmp_path / "l.yaml", workloads=[
        {"workload": "mlp-demo"}, {"workload": "mlp-demo", "params": {"objects": 3}}]))),
        "l.yaml", "workloads[1].name", "already used", "distinct name")
    _one_line_error(run_cli("report", str(tmp_path / "missing-run")), "missing-run")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu_is_a_clear_error(tmp_path):
    cfg = write_config(tmp_path / "g.yaml", device="cuda")
    _one_line_error(run_cli("run", str(cfg)), "g.yaml", "device", "cuda", "cpu")
    cfg = write_config(tmp_path / "h.yaml")
    _one_line_error(run_cli("run", str(cfg), "--device", "cuda"), "--device", "cuda")


def test_bad_samples_flag(tmp_path):
    proc = run_cli("run", str(write_config(tmp_path / "c.yaml")), "--samples", "0")
    assert proc.returncode == 2 and "at least 1" in proc.stderr


def test_guide_config_keys_are_documented():
    """The hand-written config guide names every key (docs/reference/config.md lists them generated)."""
    from nscharacterize.config import Config, ProfilerConfig, ReportConfig, WorkloadEntry

    guide = (ROOT / "docs" / "guide" / "config.md").read_text()
    for model in (Config, ProfilerConfig, ReportConfig, WorkloadEntry):
        for key in model.model_fields:
            assert f"`{key}`" in guide, f"config key {key} is not documented in docs/guide/config.md"


def test_import_trace_png_writes_the_figures_and_report_keeps_them(tmp_path):
    trace = sorted((ROOT / "tests" / "fixtures" / "gpu-h100").glob("*.json*"))[0]
    proc = run_cli("import-trace", str(trace), "--out", str(tmp_path), "--png", "--quiet")
    assert proc.returncode == 0, proc.stderr
    run = Path(proc.stdout.strip())
    drawn = {n: (run / n).stat().st_mtime_ns for n in ("heatmap.png", "breakdown.png", "roofline.png")}
    again = run_cli("report", str(run))      # the run asked for PNGs: a plain report redraws them
    assert again.returncode == 0, again.stderr
    assert all((run / n).stat().st_mtime_ns > t for n, t in drawn.items())


def test_explain_reads_kernel_names_that_look_like_runtime_calls_as_kernels():
    """NCCL's kernels and apex's cuApplyLayerNorm begin as runtime calls do (nccl..., cu...): read
    as runtime calls they got the host call's rule, or Other. Real runtime calls stay runtime."""
    proc = run_cli("explain", "cuApplyLayerNorm")
    assert "as:        kernel" in proc.stdout and "category:  elementwise" in proc.stdout, proc.stdout
    from nscharacterize.cli import _guess_source

    for kernel in ("ncclDevKernel_AllGather_RING_LL", "ncclKernel_AllReduce_RING_LL_Sum_float", "cuComputeGradInput"):
        assert _guess_source(kernel) == "kernel", kernel
    for call in ("cudaLaunchKernel", "cuLaunchKernel", "cuMemcpyHtoDAsync_v2", "cudnnConvolutionForward",
                 "cublasSgemm_v2", "ncclAllReduce", "ncclGroupEnd", "hipLaunchKernel", "cuModuleGetFunction"):
        assert _guess_source(call) == "runtime", call


def test_import_trace_applies_your_rule_files_and_report_reclassify_applies_them_again(tmp_path):
    """A stranger's kernel in their own category, at import (a kernels rule that overrides the
    launching op), kept in config.yaml so that `report --reclassify` reads the edited file again;
    a bad --rules option or rule file is one line, exit 2, before any run directory."""
    trace = ROOT / "tests" / "fixtures" / "gpu-h100" / "mlp-demo.encoder.0.json.gz"
    rules = tmp_path / "my_kernels.yaml"
    rule = ("namespace: kernels\nrules:\n  - id: mine-gather\n    match: 'void at::native::vectorized_gather_kernel.*'\n"
            "    category: {}\n    overrides_launcher: true\n    reason: our gathers, counted as we read them\n")
    rules.write_text(rule.format("data_transform"))
    # named relative to where the import runs; `report --reclassify` runs elsewhere (the repository root)
    proc = run_cli("import-trace", str(trace), "--out", str(tmp_path / "runs"), "--rules", f"kernels={rules.name}",
                   "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = printed_dir(proc)

    def gather_verdicts() -> set:
        events = pd.read_parquet(run / "events.parquet")
        mine = events[events["name"].str.contains("vectorized_gather_kernel", regex=False)]
        return set(zip(mine["category"], mine["rule"]))

    assert gather_verdicts() == {("data_transform", "mine-gather")}
    # `explain --run` reads a name as that run was classified: with the run's rule files first
    explained = run_cli("explain", "void at::native::vectorized_gather_kernel<16, long>(char*)", "--run", str(run))
    assert "rule:      mine-gather" in explained.stdout and "category:  data_transform" in explained.stdout, explained
    digest = json.loads((run / "manifest.json").read_text())["fingerprint"]["rules"]
    rules.write_text(rule.format("data_movement"))
    assert run_cli("report", str(run), "--reclassify").returncode == 0
    assert gather_verdicts() == {("data_movement", "mine-gather")}
    # the fingerprint names the rules that classified the run: now the edited ones
    assert json.loads((run / "manifest.json").read_text())["fingerprint"]["rules"] not in (digest, None)
    for bad, words in ((["--rules", "kernel=x.yaml"], ["--rules", "NAMESPACE=FILE"]),
                       (["--rules", f"kernels={tmp_path / 'absent.yaml'}"], ["absent.yaml"])):
        proc = run_cli("import-trace", str(trace), "--out", str(tmp_path / "bad"), *bad)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert all(w in proc.stderr for w in words), proc.stderr
        assert not (tmp_path / "bad").exists()


def test_version_is_the_installed_one_and_every_run_records_it(tmp_path):
    """`--version` prints pyproject's version (bug reports, CI logs); an imported run's fingerprint
    keeps it, as a profiled run's does (profiler/environment.py), so compare notes a change of it."""
    import re

    declared = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout == f"nscharacterize {declared}\n", proc.stdout + proc.stderr
    trace = ROOT / "tests" / "fixtures" / "gpu-h100" / "mlp-demo.encoder.0.json.gz"
    run = printed_dir(run_cli("import-trace", str(trace), "--out", str(tmp_path), "--quiet"))
    assert json.loads((run / "manifest.json").read_text())["fingerprint"]["nscharacterize"] == declared
