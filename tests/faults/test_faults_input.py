"""Fault injection, bad input: every mistake in a config, rule file, option or name is one line
naming the file or option, the key and the fix, with exit status 2, and writes no run directory."""
from __future__ import annotations

import pytest
import yaml

from clirun import write_config
from faults import cli, one_line, run_dirs


def _run(capsys, tmp_path, cfg, *extra):
    return cli(capsys, "run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet", *extra)


# ---- config values ---------------------------------------------------------------------------
BAD_VALUES = [
    ({"name": "../../x"}, ["name", "leave the output folder"]),
    ({"name": "/abs/path"}, ["name", "'/'"]),
    ({"name": "a/b"}, ["name", "'/'"]),
    ({"name": "a\0b"}, ["name", "NUL"]),
    ({"name": "x" * 300}, ["name", "300 characters"]),
    ({"name": ".."}, ["name", "leave"]),
    ({"seed": 2**64}, ["seed", "less than or equal"]),
    ({"seed": -1}, ["seed", "greater than or equal"]),
    ({"samples": True}, ["samples", "integer"]),
    ({"samples": 10**12}, ["samples", "less than or equal"]),
    ({"repeats": 10**9}, ["repeats", "less than or equal"]),
    ({"warmup": 10**9}, ["warmup", "less than or equal"]),
    ({"threads": True}, ["threads", "integer"]),
    ({"samples": "3"}, ["samples", "integer"]),
    ({"workloads": [{"workload": "mlp-demo", "name": "a/b"}]}, ["workloads[0].name", "'/'"]),
    ({"workloads": [{"workload": "mlp-demo", "samples": 10**9}]}, ["workloads[0].samples"]),
    ({"workloads": [{"workload": "mlp-demo", "params": {"objects": True}}]},
     ["workloads[0].params.objects", "not true"]),
    ({"workloads": [{"workload": "mlp-demo", "params": {"hidden": 10**9}}]},
     ["workloads[0].params.hidden", "above 1,000,000"]),
]


@pytest.mark.parametrize("fields,needles", BAD_VALUES, ids=[str(i) for i in range(len(BAD_VALUES))])
def test_bad_config_values(capsys, tmp_path, fields, needles):
    cfg = write_config(tmp_path / "c.yaml", **fields)
    code, _, err = _run(capsys, tmp_path, cfg)
    one_line(code, err, "c.yaml", *needles)
    assert run_dirs(tmp_path / "runs") == []


def test_config_file_stem_that_is_not_a_name(capsys, tmp_path):
    cfg = write_config(tmp_path / ("y" * 120 + ".yaml"))
    one_line(*_run(capsys, tmp_path, cfg)[::2], "name", "set 'name'")


# ---- where the run directory goes --------------------------------------------------------------
def test_out_is_a_file(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    cfg = write_config(tmp_path / "c.yaml")
    code, _, err = cli(capsys, "run", str(cfg), "--out", str(tmp_path / "file"), "--quiet")
    one_line(code, err, "--out", "is a file")
    code, _, err = cli(capsys, "run", str(cfg), "--out", str(tmp_path / "file" / "sub"), "--quiet")
    one_line(code, err, "--out", "a parent", "is a file")


def test_output_key_is_a_file_or_cannot_be_created(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    cfg = write_config(tmp_path / "c.yaml", output=str(tmp_path / "file"))
    code, _, err = cli(capsys, "run", str(cfg), "--quiet")
    one_line(code, err, "c.yaml: output", "is a file")
    cfg = write_config(tmp_path / "d.yaml", output="/proc/nscharacterize-cannot-be-here")
    code, _, err = cli(capsys, "run", str(cfg), "--quiet")
    one_line(code, err, "d.yaml: output", "cannot create")


# ---- files that are not UTF-8 --------------------------------------------------------------------
def test_non_utf8_config_and_rule_file(capsys, tmp_path):
    cfg = tmp_path / "latin.yaml"
    cfg.write_bytes("name: caf\xe9\nworkloads: [{workload: mlp-demo}]\n".encode("latin-1"))
    one_line(*_run(capsys, tmp_path, cfg)[::2], "latin.yaml", "not UTF-8", "save the config file as UTF-8")
    rules = tmp_path / "r.yaml"
    rules.write_bytes(b"rules:\n  - {match: 'caf\xe9', category: gemm, reason: x}\n")
    cfg = write_config(tmp_path / "c.yaml", taxonomy={"rules": {"ops": [str(rules)]}})
    one_line(*_run(capsys, tmp_path, cfg)[::2], "r.yaml", "not UTF-8")


# ---- rule files ------------------------------------------------------------------------------------
BAD_RULES = [
    ({"match": 123, "category": "gemm", "reason": "x"}, ["rules[0].match", "must be text"]),
    ({"match": "aten::x", "category": ["gemm"], "reason": "x"}, ["rules[0].category", "must be text"]),
    ({"match": "aten::x", "category": "gemm", "reason": 5}, ["rules[0].reason", "must be text"]),
    ({"match": "aten::x", "category": "gemm", "reason": "x", "overrides_launcher": "yes"},
     ["overrides_launcher", "true or false"]),
    ({"match": "aten::x", "category": "gemm", "reason": "x", "source": "gpu"}, ["rules[0].source"]),
    ({"match": "(.+)+X", "category": "gemm", "reason": "x"}, ["rules[0].match", "backtrack exponentially"]),
    ({"match": "(a*)*b", "category": "gemm", "reason": "x"}, ["rules[0].match", "nests a quantifier"]),
    ({"match": "(.*,)*x", "category": "gemm", "reason": "x"}, ["rules[0].match", "atomic"]),
    ({"match": "x", "within": "(\\w+\\s?)+$", "category": "gemm", "reason": "x"}, ["rules[0].within"]),
    ({"match": "(", "category": "gemm", "reason": "x"}, ["rules[0].match", "bad regular expression"]),
    ({"match": "x" * 6000, "category": "gemm", "reason": "x"}, ["rules[0].match", "characters long"]),
]


@pytest.mark.parametrize("rule,needles", BAD_RULES, ids=[str(i) for i in range(len(BAD_RULES))])
def test_bad_rule_files(capsys, tmp_path, rule, needles):
    rules = tmp_path / "mine.yaml"
    rules.write_text(yaml.safe_dump({"rules": [rule]}))
    cfg = write_config(tmp_path / "c.yaml", taxonomy={"rules": {"ops": [str(rules)]}})
    one_line(*_run(capsys, tmp_path, cfg)[::2], "mine.yaml", *needles)
    assert run_dirs(tmp_path / "runs") == []


def test_delimited_repetition_is_allowed():
    from nscharacterize.taxonomy.backtrack import nested_quantifier

    assert not nested_quantifier(r"json(\.\w+)*:.*") and not nested_quantifier(r"(\w+::)*\w+")
    assert nested_quantifier(r"(a+a)+b") and nested_quantifier(r"((ab)+c?)+")


# ---- workload references: imports, the trust policy, signatures -------------------------------------
IMPORT_FAULTS = {
    "raises_at_import": ("raise RuntimeError('planted failure at import')\n",
                         ["raised RuntimeError", "planted failure at import", "raises_at_import.py, line 1"]),
    "exits_at_import": ("import sys\nsys.exit(4)\n", ["raised SystemExit", "4"]),
    "syntax_error": ("def factory(:\n    return None\n", ["syntax error", "syntax_error.py, line 1"]),
    "missing_dep": ("import not_a_module_xyz\n", ["failed to import", "not_a_module_xyz"]),
}


@pytest.mark.parametrize("module", sorted(IMPORT_FAULTS))
def test_user_module_that_fails_to_import(capsys, tmp_path, monkeypatch, module):
    source, needles = IMPORT_FAULTS[module]
    pkg = tmp_path / "faultpkg_{}".format(module)
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = write_config(tmp_path / "c.yaml", workloads=[{"workload": f"{pkg.name}.{module}:factory"}])
    one_line(*_run(capsys, tmp_path, cfg)[::2], "c.yaml: workloads[0].workload", *needles)
    assert run_dirs(tmp_path / "runs") == []


REFUSED = [
    ("os:system", {"command": "touch {marker}"}, ["os:system", "not a Python function"]),
    ("subprocess:run", {"args": ["touch", "{marker}"]}, ["standard library"]),
    ("shutil:rmtree", {"path": "{marker}"}, ["standard library"]),
    ("builtins:eval", {}, ["not a Python function"]),
    ("fault_models:NotAFunction", {}, ["is a class"]),
    ("yaml:safe_load", {"stream": "x"}, ["installed package", "-> Workload"]),
    ("fault_models:slow", {"pause": 0.1, "speed": 2}, ["workloads[0].params", "speed", "pause"]),
    ("user_models:tiny_cnn", {"channel": 4}, ["workloads[0].params", "channels"]),
]


@pytest.mark.parametrize("ref,params,needles", REFUSED, ids=[r[0] for r in REFUSED])
def test_factories_are_checked_before_they_are_called(capsys, tmp_path, ref, params, needles):
    marker = tmp_path / "marker"
    params = yaml.safe_load(yaml.safe_dump(params).replace("{marker}", str(marker)))
    cfg = write_config(tmp_path / "c.yaml", workloads=[{"workload": ref, "params": params}])
    one_line(*_run(capsys, tmp_path, cfg)[::2], "c.yaml: workloads[0]", *needles)
    assert not marker.exists(), "the refused callable was called"
    assert run_dirs(tmp_path / "runs") == []


def test_packages_of_a_venv_inside_the_checkout_are_installed_ones(tmp_path, monkeypatch):
    """CI keeps its .venv in the checkout: yaml there is still an installed package, not user code."""
    import os
    import sys

    from nscharacterize.workloads import registry

    root = os.path.dirname(os.path.dirname(registry.__file__))
    site = os.path.join(root, ".venv-probe", "lib", "python3", "site-packages")
    monkeypatch.setattr(sys, "path", [*sys.path, site])
    assert registry.home(os.path.join(site, "yaml", "__init__.py")) == "installed"
    assert registry.home(registry.__file__) == "package"  # nscharacterize itself: not user code


# ---- command-line options ----------------------------------------------------------------------------
BAD_ARGS = [
    (["bogus"], ["invalid choice", "--help"]),
    (["run"], ["required", "config"]),
    (["run", "c.yaml", "--device", "tpu"], ["--device", "invalid choice"]),
    (["run", "c.yaml", "--samples", "0"], ["--samples", "at least 1"]),
    (["run", "c.yaml", "--samples", "x"], ["--samples", "whole number"]),
    (["run", "c.yaml", "--bogus"], ["unrecognized arguments", "--bogus"]),
    (["explain"], ["required", "name"]),
    (["explain", "aten::mm", "--as", "gpu"], ["--as", "invalid choice"]),
    (["report"], ["required", "run_dir"]),
]


@pytest.mark.parametrize("args,needles", BAD_ARGS, ids=[" ".join(a[0]) for a in BAD_ARGS])
def test_bad_arguments_are_one_line(capsys, args, needles):
    one_line(*cli(capsys, *args)[::2], *needles)
