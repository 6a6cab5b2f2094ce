"""compare on synthetic run directories: verdicts, thresholds, fingerprints, bad input (CLI exit codes)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from gate_fakes import make_run  # noqa: E402

from nscharacterize.gate.compare import compare_runs  # noqa: E402
from nscharacterize.gate.errors import CompareError  # noqa: E402
from nscharacterize.gate.settings import CompareSettings  # noqa: E402
from nscharacterize.gate.stats import bootstrap_p, mann_whitney_p, min_one_sided_p  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def cli_subprocess(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Runs the CLI as a user would."""
    return subprocess.run([sys.executable, "-m", "nscharacterize.cli", *args], capture_output=True, text=True, cwd=cwd or ROOT,
                          timeout=300)


def cli(*args: str) -> subprocess.CompletedProcess:
    """The same CLI in-process (fast): returns a CompletedProcess-like result with exit code and output."""
    import contextlib
    import io

    from nscharacterize import cli as main_cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main_cli.main(list(args))
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("nscharacterize: error: ")
    return lines[0]


DM = ("mlp-demo", "encoder", "data_movement")


def test_unchanged_runs_pass(tmp_path):
    a = make_run(tmp_path / "a", seed=1)
    b = make_run(tmp_path / "b", seed=2)
    proc = cli_subprocess("compare", str(a), str(b))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout
    cmp = compare_runs(a, b)
    assert cmp.count("regressed") == 0 and cmp.count("improved") == 0
    # per category rows plus component, workload and suite totals
    keys = {(r.workload, r.component, r.category) for r in cmp.rows}
    assert ("mlp-demo", "encoder", "gemm") in keys and ("mlp-demo", "(all)", "total") in keys
    assert ("(suite)", "(all)", "total") in keys


def test_planted_regression_fails_with_reports(tmp_path):
    a = make_run(tmp_path / "a", seed=1)
    b = make_run(tmp_path / "b", seed=2, scale={DM: 2.0})
    md, js = tmp_path / "out" / "cmp.md", tmp_path / "out" / "cmp.json"
    proc = cli_subprocess("compare", str(a), str(b), "--markdown", str(md), "--json", str(js))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "REGRESSED" in proc.stdout and "data_movement" in proc.stdout
    data = json.loads(js.read_text())
    assert data["summary"]["regressed"] >= 1 and data["summary"]["exit_code"] == 1
    reg = [r for r in data["rows"] if r["verdict"] == "regressed"]
    assert {(r["workload"], r["component"], r["category"]) for r in reg} == {DM}
    r = reg[0]
    assert r["ratio"] == pytest.approx(2.0, rel=0.15) and r["p_value"] < 0.01 and r["noise_s"] > 0
    assert r["share_flag"] and r["share_delta"] > 5
    text = md.read_text()
    assert "REGRESSED" in text and "| mlp-demo | encoder | data_movement |" in text and "<details>" in text


def test_improvement_and_format_json(tmp_path):
    a = make_run(tmp_path / "a", seed=1)
    b = make_run(tmp_path / "b", seed=2, scale={("toy-b", "net", "conv"): 0.5})
    proc = cli("compare", str(a), str(b), "--format", "json")
    assert proc.returncode == 0
    rows = json.loads(proc.stdout)["rows"]
    assert any(r["category"] == "conv" and r["verdict"] == "improved" for r in rows)


def test_noisy_change_is_within_noise(tmp_path):
    a = make_run(tmp_path / "a", seed=1, n=4, noise=0.6)
    b = make_run(tmp_path / "b", seed=2, n=4, noise=0.6, scale={DM: 1.6})
    cmp = compare_runs(a, b)
    assert cmp.count("regressed") == 0
    assert cmp.exit_code == 0
    assert any("too few samples" in n for n in cmp.notes)


def test_abs_floor_and_rel_threshold(tmp_path):
    a = make_run(tmp_path / "a", seed=1)
    # embedding is 0.5 ms: doubling it (+0.5 ms) passes a 0.1 ms floor but not a 1 ms floor
    b = make_run(tmp_path / "b", seed=2, scale={("mlp-demo", "encoder", "embedding"): 2.0})
    assert compare_runs(a, b).count("regressed") == 1
    assert compare_runs(a, b, CompareSettings(abs_floor_s=1e-3)).count("regressed") == 0
    c = make_run(tmp_path / "c", seed=3, scale={("mlp-demo", "encoder", "gemm"): 1.15})
    assert compare_runs(a, c, CompareSettings(rel_threshold=0.25)).count("regressed") == 0
    assert compare_runs(a, c, CompareSettings(rel_threshold=0.10)).count("regressed") >= 1
    proc = cli("compare", str(a), str(c), "--rel-threshold", "0.1", "--abs-floor", "0.0001")
    assert proc.returncode == 1
    assert cli("compare", str(a), str(c), "--rel-threshold", "0.1", "--abs-floor", "0.01").returncode == 0
    assert cli("compare", str(a), str(b), "--alpha", "1e-12").returncode == 0


def test_bootstrap_test(tmp_path):
    a = make_run(tmp_path / "a", seed=1)
    b = make_run(tmp_path / "b", seed=2, scale={DM: 2.0})
    proc = cli("compare", str(a), str(b), "--test", "bootstrap")
    assert proc.returncode == 1
    rng = np.random.default_rng(0)
    x, y = rng.normal(1, 0.1, 30), rng.normal(1, 0.1, 30)
    assert bootstrap_p(x, y + 0.5, True, 2000) < 0.01
    assert bootstrap_p(x, y, True, 2000) > 0.01
    assert mann_whitney_p(x, y + 0.5, True) < 1e-6 and mann_whitney_p(x, y + 0.5, False) > 0.5
    assert min_one_sided_p(5, 5) == pytest.approx(1 / 252)


def test_share_shift_flag_and_fail_option(tmp_path):
    a = make_run(tmp_path / "a", seed=1)
    # data movement x1.6: +0.5 ms (regression with rel 0.25) ... use a high threshold so only the share shows
    b = make_run(tmp_path / "b", seed=2, scale={DM: 2.0})
    proc = cli("compare", str(a), str(b), "--rel-threshold", "5")
    assert proc.returncode == 0, proc.stdout
    assert "SHIFT" in proc.stdout and "1 share shifts" in proc.stdout
    proc = cli("compare", str(a), str(b), "--rel-threshold", "5", "--fail-on-share-shift")
    assert proc.returncode == 1


def test_fingerprint_mismatch_refused_then_allowed(tmp_path):
    a = make_run(tmp_path / "a", seed=1)
    b = make_run(tmp_path / "b", seed=2, fingerprint={"torch": "2.5.0", "threads": 8, "numpy": "2.0"})
    line = one_error_line(cli("compare", str(a), str(b)))
    assert "manifest.json: fingerprint:" in line and "torch" in line and "threads" in line
    assert "--allow-env-change" in line
    proc = cli("compare", str(a), str(b), "--allow-env-change")
    assert proc.returncode == 0, proc.stderr
    assert "torch: '2.4.0' -> '2.5.0'" in proc.stdout and "threads: 2 -> 8" in proc.stdout
    assert "numpy" in proc.stdout  # warned, not refused


def test_config_change_refused_and_diff_printed(tmp_path):
    cfg = {"name": "fake", "seed": 0, "workloads": [{"name": "mlp-demo", "params": {"copies": 0}}]}
    cfg2 = {"name": "fake", "seed": 0, "workloads": [{"name": "mlp-demo", "params": {"copies": 8}}]}
    a = make_run(tmp_path / "a", seed=1, config=cfg)
    b = make_run(tmp_path / "b", seed=2, config=cfg2)
    assert "config_hash" in one_error_line(cli("compare", str(a), str(b)))
    proc = cli("compare", str(a), str(b), "--allow-env-change")
    assert proc.returncode == 0
    assert "config differs: workloads[0].params.copies: 0 -> 8" in proc.stdout


def test_settings_from_config_section_and_bad_value(tmp_path):
    a = make_run(tmp_path / "a", seed=1)
    b = make_run(tmp_path / "b", seed=2, scale={("mlp-demo", "encoder", "gemm"): 1.15})
    settings = tmp_path / "gate.yaml"
    settings.write_text("compare:\n  rel_threshold: 0.1\n")
    assert cli("compare", str(a), str(b)).returncode == 0
    assert cli("compare", str(a), str(b), "--settings", str(settings)).returncode == 1
    # options beat the settings file
    assert cli("compare", str(a), str(b), "--settings", str(settings), "--rel-threshold", "0.5").returncode == 0
    settings.write_text("compare:\n  rel_threshold: -1\n")
    line = one_error_line(cli("compare", str(a), str(b), "--settings", str(settings)))
    assert "gate.yaml: compare.rel_threshold:" in line
    settings.write_text("compare:\n  bogus_key: 1\n")
    assert "compare.bogus_key" in one_error_line(cli("compare", str(a), str(b), "--settings", str(settings)))


def test_failed_workload_is_missing(tmp_path):
    a = make_run(tmp_path / "a", seed=1)
    b = make_run(tmp_path / "b", seed=2, failed=("toy-b",))
    proc = cli("compare", str(a), str(b))
    assert proc.returncode == 1
    assert "MISSING" in proc.stdout and "failed in the new run" in proc.stdout


@pytest.mark.parametrize("damage", ["manifest", "samples_missing", "samples_garbage", "no_dir", "columns"])
def test_bad_input_exits_2_with_one_line(tmp_path, damage):
    a = make_run(tmp_path / "a", seed=1)
    b = make_run(tmp_path / "b", seed=2)
    if damage == "manifest":
        (b / "manifest.json").write_text("{not json")
    elif damage == "samples_missing":
        (b / "samples.csv").unlink()
    elif damage == "samples_garbage":
        (b / "samples.csv").write_bytes(b"\xff\xfe\x00garbage\n\x00\x01")
    elif damage == "no_dir":
        b = tmp_path / "nope"
    elif damage == "columns":
        (b / "samples.csv").write_text("a,b\n1,2\n")
    run = cli_subprocess if damage == "manifest" else cli
    line = one_error_line(run("compare", str(a), str(b)))
    assert str(b) in line


def test_usage_errors(tmp_path):
    a = make_run(tmp_path / "a", seed=1)
    assert "two run directories" in one_error_line(cli("compare", str(a)))
    assert "exclude" in one_error_line(cli("compare", "--baseline", "x", "--configs", "a.yaml", "b.yaml"))


def test_compare_error_wording():
    e = CompareError("f.yaml", "compare.alpha", "must be below 1", "use 0.01")
    assert str(e) == "f.yaml: compare.alpha: must be below 1; use 0.01"


def test_ab_rounds_drift_is_within_noise_but_consistent_change_regresses(tmp_path):
    from nscharacterize.gate.abrun import merge_runs

    def side(name, scales):
        return merge_runs([make_run(tmp_path / f"{name}{i}", seed=hash((name, i)) % 1000, scale=sc)
                           for i, sc in enumerate(scales)], tmp_path / name, name)

    everything = {(w, c, k): 2.0 for w, comps in __import__("gate_fakes").DEFAULT.items()
                  for c, (_, cats) in comps.items() for k in cats}
    a = side("A", [{}, {}])
    # one B round ran under heavy load (everything 2x): the other B round disagrees -> not a regression
    b = side("B", [everything, {}])
    cmp = compare_runs(a, b)
    assert cmp.count("regressed") == 0, [(r.workload, r.category, r.ratio, r.note) for r in cmp.rows
                                         if r.verdict == "regressed"]
    assert any("rounds" in n for n in cmp.notes)
    # a planted change present in every B round regresses
    c = side("C", [{DM: 2.0}, {DM: 2.0}])
    cmp = compare_runs(a, c)
    reg = [r for r in cmp.rows if r.verdict == "regressed"]
    assert [(r.workload, r.component, r.category) for r in reg] == [DM] and reg[0].round_drift is not None
    # without the round check, the loaded round alone fakes regressions
    assert compare_runs(a, b, CompareSettings(round_check=False)).count("regressed") > 0


def test_bad_threshold_is_blamed_on_its_source(tmp_path):
    """A refused value names where it came from: the option, the settings file, or the run's config."""
    a = make_run(tmp_path / "a", seed=1)
    b = make_run(tmp_path / "b", seed=2)
    line = one_error_line(cli_subprocess("compare", str(a), str(b), "--rel-threshold", "-1"))
    assert line.startswith("nscharacterize: error: --rel-threshold: ") and "greater than or equal to 0" in line
    assert "config.yaml" not in line
    settings = tmp_path / "gate.yaml"
    settings.write_text("compare:\n  alpha: 2\n")
    line = one_error_line(cli("compare", str(a), str(b), "--settings", str(settings), "--rel-threshold", "-1"))
    assert line.startswith("nscharacterize: error: --rel-threshold: ")   # the first field pydantic refuses
    # the option overrides the bad file value: nothing left to refuse
    settings.write_text("compare:\n  rel_threshold: -1\n")
    assert cli("compare", str(a), str(b), "--settings", str(settings), "--rel-threshold", "0.5").returncode == 0
    c = make_run(tmp_path / "c", seed=3, config={"name": "fake", "compare": {"abs_floor_s": -5},
                                                   "workloads": [{"name": "mlp-demo"}]})
    line = one_error_line(cli("compare", str(a), str(c), "--allow-env-change"))
    assert f"{c / 'config.yaml'}: compare.abs_floor_s: " in line


@pytest.mark.parametrize("manifest", [{"schema": 1}, {"schema": 1, "fingerprint": {}, "workloads": "x"},
                                      {"schema": 1, "fingerprint": [], "workloads": []},
                                      {"schema": 1, "fingerprint": {}, "workloads": [{"status": "ok"}]}])
def test_manifest_without_gate_fields_is_a_damaged_run(tmp_path, manifest):
    a = make_run(tmp_path / "a", seed=1)
    b = make_run(tmp_path / "b", seed=2)
    (b / "manifest.json").write_text(json.dumps(manifest))
    line = one_error_line(cli_subprocess("compare", str(a), str(b)))
    assert f"{b / 'manifest.json'}: " in line and "damaged" in line
    assert "environment" not in line
    assert "fingerprint:" in line or "workloads" in line


def test_ab_counts_must_be_positive(tmp_path):
    cfg = tmp_path / "a.yaml"
    cfg.write_text("workloads: [{workload: mlp-demo}]\n")
    for option, value in (("--samples", "0"), ("--rounds", "0"), ("--rounds", "-2")):
        line = one_error_line(cli_subprocess("ab", str(cfg), str(cfg), option, value, "--out", str(tmp_path / "o")))
        assert f"argument {option}: must be at least 1, got {value}" in line
    line = one_error_line(cli("compare", "--configs", str(cfg), str(cfg), "--rounds", "0"))
    assert "argument --rounds: must be at least 1" in line
    assert not (tmp_path / "o").exists()
