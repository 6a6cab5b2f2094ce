"""What a newcomer trips over (issue 26), each through the CLI in a subprocess as a user types it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from types import SimpleNamespace

from clirun import printed_dir, run_cli, write_config
from faults import cli

TINY = {"samples": 1, "warmup": 0, "repeats": 1}


def _run(tmp_path: Path, *workloads, capsys=None, **fields):
    """The run command as a user types it: in a subprocess, or in this process (fast) with capsys."""
    cfg = write_config(tmp_path / "c.yaml", workloads=list(workloads), **{**TINY, **fields})
    args = ("run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")
    if capsys is None:
        return run_cli(*args)
    code, out, err = cli(capsys, *args)
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def _manifest(proc) -> dict:
    return json.loads((printed_dir(proc) / "manifest.json").read_text())


# ---- 1. a failing workload says why on the terminal; a user factory's params are type-checked ------------
def test_factory_returning_a_bare_module_says_why_on_the_terminal(tmp_path):
    proc = _run(tmp_path, {"workload": "newcomer_models:only_model", "name": "bad"})
    assert proc.returncode == 1, proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if "workload bad failed" in ln)
    assert "factory 'only_model' returned Linear; return a Workload or (nn.Module, input_factory)" in line
    assert "run.log" in line


def test_shape_bug_in_the_model_says_the_exception_and_where(tmp_path, capsys):
    proc = _run(tmp_path, {"workload": "newcomer_models:shape_bug", "name": "bad"}, capsys=capsys)
    assert proc.returncode == 1, proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if "workload bad failed" in ln)
    assert "RuntimeError: mat1 and mat2 shapes cannot be multiplied" in line
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("params,key,says", [
    ({"batch": "2"}, "workloads[0].params.batch", "not text '2'"),
    ({"batch": True}, "workloads[0].params.batch", "not true/false"),
    ({"scale": [1]}, "workloads[0].params.scale", "the factory takes float"),
    ({"mode": 3}, "workloads[0].params.mode", "the factory takes str"),
])
def test_user_factory_params_are_checked_against_its_annotations(tmp_path, capsys, params, key, says):
    proc = _run(tmp_path, {"workload": "newcomer_models:typed", "params": params}, capsys=capsys)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"c.yaml: {key}: " in lines[0] and says in lines[0], proc.stderr
    assert not (tmp_path / "runs").exists()   # refused before any work


def test_user_factory_params_of_the_right_type_run(tmp_path, capsys):
    proc = _run(tmp_path, {"workload": "newcomer_models:typed", "params": {"batch": 3, "scale": 2}}, capsys=capsys)
    assert proc.returncode == 0, proc.stderr
    assert _manifest(proc)["workloads"][0]["status"] == "ok"


def test_builtin_params_refuse_a_quoted_number(tmp_path, capsys):
    proc = _run(tmp_path, {"workload": "mlp-demo", "params": {"objects": "6"}}, capsys=capsys)
    assert proc.returncode == 2
    assert "workloads[0].params.objects: must be a number, not text '6'" in proc.stderr


# ---- 6. models of several inputs -------------------------------------------------------------------------
def test_tuple_and_dict_inputs_reach_forward_as_positional_and_keyword_arguments(tmp_path, capsys):
    proc = _run(tmp_path, {"workload": "newcomer_models:two_inputs", "name": "pair"},
                {"workload": "newcomer_models:keyword_inputs", "name": "encoder"}, capsys=capsys)
    assert proc.returncode == 0, proc.stderr
    assert [w["status"] for w in _manifest(proc)["workloads"]] == ["ok", "ok"]


# ---- 7. the default Python rules classify common shapes of symbolic code ---------------------------------
@pytest.mark.parametrize("name,expected", [
    ("builtin:dict.get", "feature_query"), ("builtin:set.issubset", "feature_query"),
    ("builtin:frozenset.intersection", "feature_query"), ("mypkg.kb:__eq__", "feature_query"),
    ("mypkg.kb:__hash__", "feature_query"), ("mypkg.logic:unify", "feature_query"),
    ("mypkg.logic:same_color", "feature_query"),
    ("builtin:set.add", "program_control"), ("builtin:builtins.sorted", "program_control"),
    ("mypkg.logic:backtrack", "program_control"), ("mypkg.logic:forward_chain", "program_control"),
    ("mypkg.logic:dfs", "program_control"), ("builtin:collections.deque.popleft", "program_control"),
    ("builtin:str.split", "parsing_io"), ("re:compile", "parsing_io"), ("mypkg.kb:__repr__", "parsing_io"),
    ("mypkg.logic:score_proofs", "arithmetic"), ("builtin:float.is_integer", "arithmetic"),
])
def test_python_rules_classify_symbolic_code_by_what_it_does(name, expected):
    from nscharacterize.taxonomy.classifier import Taxonomy

    assert Taxonomy().classify("python", name).subcategory == expected


def test_a_newcomers_symbolic_python_is_mostly_classified(tmp_path, capsys):
    proc = _run(tmp_path, {"workload": "newcomer_models:perceive_then_deduce", "name": "nesy"}, capsys=capsys)
    assert proc.returncode == 0, proc.stderr
    import pandas as pd

    run = printed_dir(proc)
    py = pd.read_csv(run / "breakdown.csv").query("axis == 'python' and component == 'deduce'")
    shares = py.set_index("category")["share"]
    assert shares.get("other", 0.0) < 0.2, shares.to_dict()
    assert shares.get("feature_query", 0.0) > 0 and shares.get("program_control", 0.0) > 0


# ---- 3. sweeps: each point's own time; a page and a figure that read at a glance ------------------------
def test_sweep_point_seconds_are_the_points_own_time(tmp_path, monkeypatch):
    import yaml

    from nscharacterize import sweep as sweep_mod
    from nscharacterize.config import load_config

    cfg = write_config(tmp_path / "s.yaml", **TINY)
    raw = yaml.safe_load(cfg.read_text())
    raw["sweep"] = {"parameters": {"objects": [4, 6, 8]}}
    cfg.write_text(yaml.safe_dump(raw))
    took = iter([3.0, 4.0, 5.0])   # each point's own run, as timed where it ran

    def fake_point(config_yaml, device, threads_env=None, timeout_s=None):
        return sweep_mod.PointResult(2, None, "nscharacterize: error: planted", next(took))

    monkeypatch.setattr(sweep_mod, "run_point", fake_point)
    lines: list[str] = []
    out = sweep_mod.sweep(load_config(cfg), str(cfg), out=str(tmp_path / "runs"), log=lines.append)
    points = json.loads((out / "sweep.json").read_text())["points"]
    assert [p["seconds"] for p in points] == [3.0, 4.0, 5.0]
    assert lines == [f"point objects={n}: failed ({s:.1f} s)" for n, s in ((4, 3.0), (6, 4.0), (8, 5.0))]


def test_run_point_times_its_own_process(tmp_path):
    from nscharacterize.sweep import run_point

    result = run_point("workloads: []\n", "cpu")
    assert result.rc == 2 and result.seconds is not None and result.seconds > 0


def _scaling():
    import pandas as pd

    from nscharacterize.attribution.scaling import Point, scaling_table

    def samples(x):
        rows = []
        for s in range(3):
            for cat, t in (("gemm", 1e-6 * x ** 2 * (1 + 0.01 * s)), ("embedding", 0.0), ("conv", 0.0)):
                rows.append(("w", "c", "neural", "cpu", "category", cat, s, t))
            rows.append(("w", "c", "neural", "cpu", "total", "total", s, 1e-6 * x ** 2 * (1 + 0.01 * s)))
        return pd.DataFrame(rows, columns=["workload", "component", "kind", "device", "axis", "category",
                                           "sample", "time_s"])

    return scaling_table([Point({"n": x}, samples(x)) for x in (6, 8, 10, 12)], "n")


def test_sweep_fits_table_leads_with_b_its_interval_and_r2_and_drops_empty_categories():
    from nscharacterize.reports.html_sweep import fits_table

    fits, dropped = fits_table(_scaling())
    assert list(fits.columns[:6]) == ["workload", "component", "category", "b", "b 95% interval", "R^2"]
    component = fits[fits["component"] == "c"]
    assert list(component["category"]) == ["GEMM", "Total"] and dropped == 2
    assert component.iloc[0]["b"] == pytest.approx(2.0, abs=1e-3)


def test_scaling_png_ticks_are_the_swept_values_as_plain_numbers():
    import matplotlib.pyplot as plt

    from nscharacterize.reports.sweep_report import scaling_figure

    fig = scaling_figure(_scaling())
    ax = fig.axes[0]
    fig.canvas.draw()
    assert list(ax.get_xticks()) == [6, 8, 10, 12]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["6", "8", "10", "12"]
    assert ax.get_xlabel().startswith("n")
    plt.close(fig)


# ---- 7. small things ------------------------------------------------------------------------------------
def test_explain_uses_the_rule_files_of_a_config_as_the_run_does(tmp_path, capsys):
    rules = tmp_path / "my_python.yaml"
    rules.write_text("namespace: python\nrules:\n  - id: my-unify\n    match: 'mypkg\\.logic:solve_all'\n"
                     "    category: arithmetic\n    reason: my solver adds numbers\n")
    cfg = write_config(tmp_path / "c.yaml", taxonomy={"rules": {"python": [str(rules)]}})
    code, out, _ = cli(capsys, "explain", "mypkg.logic:solve_all", "--config", str(cfg))
    assert code == 0 and "my-unify" in out and "arithmetic" in out
    code, out, _ = cli(capsys, "explain", "mypkg.logic:solve_all", "--rules", f"python={rules}")
    assert code == 0 and "my-unify" in out
    code, out, _ = cli(capsys, "explain", "mypkg.logic:solve_all")   # without them: the built-in verdict
    assert code == 0 and "my-unify" not in out
    code, _, err = cli(capsys, "explain", "x", "--rules", "nonsense")
    assert code == 2 and "--rules" in err


def test_explain_of_a_bare_op_name_reads_it_as_the_aten_op(capsys):
    code, out, _ = cli(capsys, "explain", "relu")
    assert code == 0
    assert "aten::relu" in out and "elementwise" in out and "kernel" not in out.split("\n")[1]


def test_every_command_help_opens_with_a_description_and_run_help_names_module_factory(capsys):
    from nscharacterize.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, command in commands.items():
        assert command.description, name
    code, out, _ = cli(capsys, "run", "--help")
    assert code == 0 and "module:factory" in out and "PYTHONPATH" in out


def test_report_on_a_file_says_it_is_a_file(tmp_path, capsys):
    cfg = write_config(tmp_path / "x.yaml")
    code, _, err = cli(capsys, "report", str(cfg))
    assert code == 2 and "is a file, not a run directory" in err and "no such" not in err


def test_device_line_counts_threads_in_english():
    from nscharacterize.reports.tables import device_line

    one = device_line({"fingerprint": {"device": "cpu", "cpu_model": "X", "threads": 1, "torch": "2.5"}})
    assert "1 thread;" in one and "threads" not in one
    assert "4 threads" in device_line({"fingerprint": {"device": "cpu", "threads": 4, "torch": "2.5"}})


def test_config_error_paths_are_written_one_way(tmp_path, capsys):
    cfg = write_config(tmp_path / "c.yaml", workloads=[{"workload": "mlp-demo", "samples": "3"}])
    code, _, err = cli(capsys, "run", str(cfg))
    assert code == 2 and "workloads[0].samples" in err and "workloads.0" not in err


def test_the_own_model_example_with_several_inputs_runs_as_written(tmp_path, capsys, monkeypatch):
    """The documented example (docs/guide/own-models.md), copied into a package and run as the docs say."""
    import re

    from clirun import ROOT

    text = (ROOT / "docs" / "guide" / "own-models.md").read_text()
    blocks = re.findall(r"```(\w+)\n(.*?)```", text, re.S)
    code = next(b for lang, b in blocks if lang == "python" and "def two_tower" in b)
    config = next(b for lang, b in blocks if lang == "yaml" and "mypkg.vqa:two_tower" in b)
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "vqa.py").write_text(code)
    import yaml

    raw = yaml.safe_load(config)
    raw.update(samples=1, warmup=0, repeats=1)
    cfg = tmp_path / "mine.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    monkeypatch.syspath_prepend(str(tmp_path))
    code_, out, err = cli(capsys, "run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")
    assert code_ == 0, err
    manifest = json.loads((Path(out.strip().splitlines()[-1]) / "manifest.json").read_text())
    assert {w["status"] for w in manifest["workloads"]} == {"ok"}


def test_a_factory_that_takes_text_or_a_number_gets_text(tmp_path, capsys):
    """``code: int | str`` accepts "bye" (sys.exit's argument): only a number-only parameter refuses text."""
    proc = _run(tmp_path, {"workload": "fault_models:exits", "name": "bad", "params": {"code": "bye", "at": 0}},
                capsys=capsys)
    assert proc.returncode == 1 and "sys.exit('bye')" in proc.stderr, proc.stderr
