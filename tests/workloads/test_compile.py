"""Compile mode: a real torch.compile run on the CPU through the CLI, its facts kept apart from the
runtime, its kernels classified with reasons, and one-line errors when it cannot run."""
from __future__ import annotations

import json
import os

import pandas as pd
import pytest
import yaml
from clirun import TESTS, printed_dir, run_cli, write_config

from nscharacterize.taxonomy.classifier import Taxonomy
from nscharacterize.workloads.base import WorkloadError
from nscharacterize.workloads.compile import CompiledWorkload, CompileSettings, toolchain_problem

NAMES = TESTS / "data" / "compiled_names.yaml"
needs_toolchain = pytest.mark.skipif(toolchain_problem("cpu") is not None,
                                     reason=f"torch.compile cannot run here: {toolchain_problem('cpu')}")


@needs_toolchain
def test_compiled_cpu_run_end_to_end(tmp_path):
    cfg = write_config(tmp_path / "c.yaml", samples=2, workloads=[   # the self-compiled entry first: the
        {"workload": "user_models:self_compiled_mlp", "name": "mlp-self-compiled"},   # compile key would turn
        {"workload": "user_models:tiny_cnn", "name": "cnn-eager"},                    # the kernel ranges on
        {"workload": "user_models:tiny_cnn", "name": "cnn-compiled", "compile": {"mode": "default"}}])
    proc = run_cli("run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet", "--trace")
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = printed_dir(proc)
    manifest = json.loads((run / "manifest.json").read_text())
    _, eager, compiled = manifest["workloads"]
    assert "compile" not in eager["info"]
    facts = compiled["info"]["compile"]
    assert facts["mode"] == "default" and facts["components"] == ["forward"] and facts["modules"] == 1
    assert facts["graphs"] >= 1 and facts["compile_s"] > 0
    assert facts["first_pass_s"] > facts["steady_pass_s"]         # the first pass compiled, the second did not
    assert facts["graphs_during_measurement"] == 0                  # nothing compiled inside a measured pass
    assert yaml.safe_load((run / "config.yaml").read_text())["workloads"][2]["compile"]["mode"] == "default"

    events = pd.read_parquet(run / "events.parquet")
    mine = events[events["workload"] == "cnn-compiled"]
    kernels = mine[mine["name"].str.contains("cpp_fused")]
    assert len(kernels) > 0, sorted(set(mine["name"]))              # Inductor's C++ kernels are events
    assert kernels["rule"].astype(str).str.startswith("inductor-").all()
    assert (mine["rule"].astype(str) != "").all()                   # every event has an explicit rule
    glue = mine[mine["name"].str.startswith("Torch-Compiled Region")]
    assert set(glue["rule"].astype(str)) == {"torch-compile-runtime"}
    assert "aten::convolution" in set(mine["name"])                 # the conv stays an extern call
    # the compiled entry lost the eager element-wise ops that Inductor fused into kernels
    eager_ops = set(events.loc[(events["workload"] == "cnn-eager") & (events["source"] == "op"), "name"])
    assert "aten::relu" in eager_ops and "aten::relu" not in set(mine["name"])

    table = (run / "table.md").read_text()
    section = table.split("## Compilation")[1].split("\n## ")[0]
    assert "cnn-compiled" in section and "cnn-eager" not in section

    # A factory that compiles its own model gets named kernels too (the run turns Inductor's kernel
    # ranges on for the whole process): its fused GELU + LayerNorm loop is Element-wise, not the
    # Other self time of the compiled graph's range.
    mine = events[events["workload"] == "mlp-self-compiled"]
    fused = mine[mine["name"].str.contains("cpp_fused") & mine["name"].str.contains("gelu")]
    assert len(fused) and set(fused["category"].astype(str)) == {"elementwise"}, sorted(set(mine["name"]))
    assert "aten::gelu" not in set(mine["name"])
    # and its trace, imported, needs no word about unnamed kernels
    trace = next((run / "traces").glob("mlp-self-compiled.*"))
    imported = run_cli("import-trace", str(trace), "--out", str(tmp_path / "imported"), "--quiet")
    assert imported.returncode == 0, imported.stderr[-2000:]
    notes = json.loads((printed_dir(imported) / "manifest.json").read_text())["imported"][0]["notes"]
    assert not any("without a profiler range per generated kernel" in n for n in notes), notes


def test_a_cpu_trace_of_compiled_code_without_kernel_ranges_says_where_the_kernels_went(tmp_path):
    """A real trace of a torch.compile'd MLP recorded with Inductor's kernel ranges off (the default
    outside this tool): the fused kernels are no event, and the import says so, with the fix."""
    trace = TESTS / "fixtures" / "cpu-compiled" / "compiled-mlp.pt.trace.json.gz"
    proc = run_cli("import-trace", str(trace), "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = printed_dir(proc)
    notes = json.loads((run / "manifest.json").read_text())["imported"][0]["notes"]
    said = [n for n in notes if "without a profiler range per generated kernel" in n]
    assert len(said) == 1 and "TORCHINDUCTOR_CPP_ENABLE_KERNEL_PROFILE=1" in said[0], notes
    events = pd.read_parquet(run / "events.parquet")
    graph = events[events["name"].str.startswith("## Call CompiledFxGraph")]
    ms = graph["self_cpu_us"].sum() / 1e3
    assert f"({ms:.3g} ms," in said[0]                          # the time it names is the range's self time
    assert said[0] in (run / "table.md").read_text()


def test_name_cpu_kernels_keeps_the_users_choice(monkeypatch):
    from nscharacterize.workloads.compile import KERNEL_PROFILE_VARIABLE, name_cpu_kernels

    monkeypatch.setenv(KERNEL_PROFILE_VARIABLE, "0")
    name_cpu_kernels()
    assert os.environ[KERNEL_PROFILE_VARIABLE] == "0"
    monkeypatch.delenv(KERNEL_PROFILE_VARIABLE)
    name_cpu_kernels()
    assert os.environ[KERNEL_PROFILE_VARIABLE] == "1"


@needs_toolchain
def test_an_entry_that_compiles_nothing_fails_instead_of_passing_for_compiled(tmp_path):
    cfg = write_config(tmp_path / "c.yaml", samples=2, workloads=[
        {"workload": "user_models:lists_a_module_it_never_calls", "compile": {"mode": "default"}}])
    proc = run_cli("run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "torch.compile captured no graph of 'lists-a-module'" in proc.stderr, proc.stderr[-2000:]
    record = json.loads((printed_dir(proc) / "manifest.json").read_text())["workloads"][0]
    assert record["status"] == "error" and "Component.modules" in record["error"]


def test_missing_compiler_is_one_line(tmp_path):
    cfg = write_config(tmp_path / "c.yaml", workloads=[
        {"workload": "mlp-demo", "compile": {"mode": "default"}}])
    proc = run_cli("run", str(cfg), "--out", str(tmp_path / "runs"), env={"CXX": "/nonexistent/g++"})
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.strip().splitlines() if not ln.startswith(("USDT", "STAGE", "W1", "W0"))]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "workloads[0].compile" in lines[0] and "C++ compiler" in lines[0]
    assert not (tmp_path / "runs").exists()                          # refused before any work


def test_bad_compile_mode_is_a_config_error(tmp_path):
    from nscharacterize.config import ConfigError, load_config

    cfg = write_config(tmp_path / "c.yaml", workloads=[{"workload": "mlp-demo", "compile": {"mode": "fast"}}])
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    line = str(err.value)
    assert "workloads[0].compile.mode" in line and "\n" not in line, line


@needs_toolchain
@pytest.mark.parametrize("entry,needles", [
    ({"workload": "user_models:tiny_cnn", "compile": {"components": ["nope"]}},
     ["['nope'] are not components of 'tiny_cnn'", "name some of forward"]),
    ({"workload": "mlp-demo", "compile": {"mode": "default"}},
     ["declare no modules to compile", "pick components that do"]),
])
def test_bad_compile_components_are_refused_before_any_work(tmp_path, entry, needles):
    """Components exist only once a workload is built: the run builds each compiled entry first
    and refuses a bad selection with one line and exit 2 before the eager entry ahead of it runs."""
    cfg = write_config(tmp_path / "c.yaml", samples=2, workloads=[
        {"workload": "mlp-demo", "name": "first"}, {**entry, "name": "second"}])
    proc = run_cli("run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert lines[0].startswith("nscharacterize: error: ") and "c.yaml: workloads[1].compile.components: " in lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not (tmp_path / "runs").exists()                          # no run directory, nothing measured


def test_compile_needs_components_with_modules():
    from nscharacterize.workloads.registry import get_spec

    spec = get_spec("mlp-demo")
    with pytest.raises(WorkloadError, match="not components"):
        CompiledWorkload(spec.build(spec.smoke, 0), CompileSettings(components=["nope"]), "cpu")
    nmn = get_spec("nmn")
    w = nmn.build(nmn.smoke, 0)
    CompiledWorkload(w, CompileSettings(mode="max-autotune"), "cpu")   # lazy: nothing compiles yet
    assert w.info["compile"] == {"mode": "max-autotune", "components": ["execution_engine"], "modules": 42,
                                 "recompile_limit": 64}


def _names():
    return yaml.safe_load(NAMES.read_text())


@pytest.fixture(scope="module")
def tax():
    return Taxonomy()


@pytest.mark.parametrize("entry", _names()["cpu_run"], ids=lambda e: e["name"][:60])
def test_rules_on_names_from_a_real_compiled_cpu_run(entry, tax):
    verdict = tax.classify(entry["source"], entry["name"])
    assert verdict.rule is not None and verdict.rule.id != "user-range", entry
    assert verdict.category == entry["category"], (entry, verdict.rule.id)
    assert verdict.rule.reason


@pytest.mark.parametrize("entry", _names()["triton"], ids=lambda e: e["name"])
def test_triton_kernels_get_the_same_category_on_host_and_device(entry, tax):
    host = tax.classify("annotation", entry["name"])
    device = tax.classify("kernel", entry["name"], ancestors=("aten::mm",))   # a launcher must not win
    assert host.category == device.category == entry["category"], (entry, host.rule.id, device.rule.id)
    assert device.via == "kernel rule" and host.rule.id == device.rule.id
