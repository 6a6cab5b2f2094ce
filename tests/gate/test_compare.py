"""compare on synthetic run directories: verdicts, thresholds, fingerprints, bad input (CLI exit codes)."""
from __future__ import annotations

import json
import re
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
    # the pass says what it judged: its unchanged rows are counted, not only the empty verdicts
    assert cmp.count("unchanged") > 0
    assert f"within noise, {cmp.count('unchanged')} unchanged, " in proc.stdout.strip().splitlines()[-1]
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


def test_noisy_change_is_inconclusive_not_a_pass(tmp_path):
    """Noise far wider than the threshold: the gate neither fails nor passes; it says it cannot tell
    (exit 3, one line of reason and fix), unless told to let it through."""
    a = make_run(tmp_path / "a", seed=1, n=4, noise=0.6)
    b = make_run(tmp_path / "b", seed=2, n=4, noise=0.6, scale={DM: 1.6})
    cmp = compare_runs(a, b)
    assert cmp.count("regressed") == 0
    assert cmp.count("inconclusive") >= 1 and cmp.exit_code == 3 and cmp.status == "INCONCLUSIVE"
    assert "fix:" in cmp.reason()
    # a rise beyond the threshold that the test cannot confirm is named as such; a total that shows
    # less says what it cannot rule out
    for row in (r for r in cmp.rows if r.verdict == "inconclusive"):
        if row.ratio - 1 >= 0.25:
            assert f"a {row.ratio - 1:+.0%} rise ± " in row.note and "beyond the 25% threshold, that the test cannot confirm (p=" in row.note, row
        else:
            assert row.note.endswith("a rise of the 25% threshold is not ruled out"), row
    assert "beyond the 25% threshold, that the test cannot confirm" in cmp.reason()
    assert compare_runs(a, b, CompareSettings(fail_on_inconclusive=False)).exit_code == 0
    proc = cli("compare", str(a), str(b))
    assert proc.returncode == 3
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith("INCONCLUSIVE: 0 regressed")
    assert lines[-2].startswith("INCONCLUSIVE: ") and "fix:" in lines[-2]


def test_too_few_samples_for_the_test_is_inconclusive(tmp_path):
    """Mann-Whitney at alpha 0.002 cannot reach significance with 5 samples a side (smallest p
    0.004): forced, a planted 2x is inconclusive, never a pass; the default test (auto) switches to
    Welch's t on log times there and catches it; one sample a side can decide nothing."""
    a = make_run(tmp_path / "a", seed=1, n=5)
    b = make_run(tmp_path / "b", seed=2, n=5, scale={("mlp-demo", "encoder", c): 2.0 for c in
                                                       ("gemm", "elementwise", "sparse_mm", "data_movement")})
    forced = compare_runs(a, b, CompareSettings(test="mannwhitney"))
    assert forced.count("regressed") == 0 and forced.exit_code == 3
    assert "cannot reach alpha=0.002" in forced.reason()
    auto = compare_runs(a, b)
    assert auto.exit_code == 1
    enc = next(r for r in auto.rows if (r.workload, r.component, r.category) == ("mlp-demo", "encoder", "total"))
    assert enc.verdict == "regressed" and enc.test == "welch"
    one_a, one_b = make_run(tmp_path / "1a", seed=1, n=1), make_run(tmp_path / "1b", seed=2, n=1)
    assert compare_runs(one_a, one_b).exit_code == 3


def test_unchanged_quiet_runs_pass_at_every_sample_count(tmp_path):
    """Unchanged code, per-sample noise 5 %: from 3 samples a side the gate can decide, and passes."""
    for n in (3, 4, 6, 12):
        a = make_run(tmp_path / f"a{n}", seed=10 + n, n=n, noise=0.05)
        b = make_run(tmp_path / f"b{n}", seed=20 + n, n=n, noise=0.05)
        cmp = compare_runs(a, b)
        assert cmp.exit_code == 0, (n, cmp.reason())


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
    # 20 samples a side cannot reach alpha 1e-12 with Mann-Whitney (smallest p 7e-12): inconclusive
    assert cli("compare", str(a), str(b), "--alpha", "1e-12", "--test", "mannwhitney").returncode == 3


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
        return merge_runs([make_run(tmp_path / f"{name}{i}", seed=10 * ord(name) + i, scale=sc)   # fixed seeds
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


def _with_machine(run: Path, contention: float) -> Path:
    """The run's manifest with a machine record (as the pipeline writes it) of this contention."""
    path = run / "manifest.json"
    m = json.loads(path.read_text())
    rec = {"contention": contention, "other_busy": min(1.0, (contention - 1) / 2), "load_after": [2 * contention] * 3,
           "repeat_spread": 0.05}
    m["machine"] = rec
    for w in m["workloads"]:
        w["machine"] = rec
    path.write_text(json.dumps(m))
    return run


def test_busier_machine_on_one_side_is_inconclusive_not_a_regression(tmp_path):
    """Identical code, the new run on a busier machine, every time 1.9x: with the machine noise
    recorded the gate does not call it a regression; a 4x planted slowdown beyond what the
    contention explains still fails."""
    everything = {("mlp-demo", "encoder", c): 1.9 for c in ("gemm", "sparse_mm", "elementwise", "embedding",
                                                             "data_movement", "data_transform", "other")}
    everything.update({("mlp-demo", "reasoner", "other"): 1.9, ("toy-b", "net", "conv"): 1.9,
                       ("toy-b", "net", "elementwise"): 1.9, ("toy-b", "net", "data_movement"): 1.9,
                       ("toy-b", "net", "other"): 1.9})
    a = make_run(tmp_path / "a", seed=1)
    b = make_run(tmp_path / "b", seed=2, scale=everything)
    # no machine record: every component 1.9x slower is a whole-run drift (test_whole_run_drift...)
    plain = compare_runs(a, b)
    assert plain.exit_code == 3 and "the base's time in both of mlp-demo's components" in plain.reason()
    _with_machine(a, 1.0)
    # a run on a machine busier than its spare cores: one run per side cannot tell load from code
    busy = _with_machine(make_run(tmp_path / "busy", seed=2, scale=everything), 2.0)
    cmp = compare_runs(a, busy)
    assert cmp.exit_code == 3 and cmp.count("regressed") == 0
    assert "CPU contention 2.0" in cmp.reason() and "A/B" in cmp.reason()
    assert any(n.startswith("machine during new (1 run): contention 2.00") for n in cmp.notes)
    # contention ratio beyond the threshold although neither run was busy: a 1.3x it explains
    c1 = _with_machine(make_run(tmp_path / "c1", seed=5, scale={k: 1.3 / 1.9 * v for k, v in everything.items()}), 1.2)
    _with_machine(a, 0.9)   # (below 1 does not occur in a real record; it only sets the ratio here)
    cmp = compare_runs(a, c1)
    assert cmp.exit_code == 3 and "1.33x the CPU contention of the base" in cmp.reason()
    # a 4x slowdown of one component beyond the 1.33x the contention explains still fails
    c = _with_machine(make_run(tmp_path / "c", seed=3, scale={**everything, **{("toy-b", "net", k): 4.0 * 1.9 for k in
                                                                     ("conv", "elementwise", "data_movement", "other")}}), 1.2)
    cmp = compare_runs(a, c)
    assert cmp.exit_code == 1
    assert {(r.workload, r.component) for r in cmp.rows if r.verdict == "regressed"} >= {("toy-b", "net")}
    # the same, quiet contention on both sides: the rule stays out of the way
    _with_machine(a, 1.0)
    same = _with_machine(make_run(tmp_path / "d", seed=4), 1.1)
    assert compare_runs(a, same).exit_code == 0


def test_whole_run_drift_of_single_runs_is_inconclusive_but_a_change_beyond_it_fails(tmp_path):
    """Two single runs with no machine record, the new one 1.5x slower in every component (a slower
    machine: in the power study's pool whole runs differed by up to 1.6x with contention 1.0): not a
    regression but inconclusive, with a note naming the drift. A 2x of one component on top of it
    fails; a 2x of one component of three, no drift, fails as before. Drift is read per workload
    (a slow spell can cover one workload of a run): two components that both moved are a drift,
    one of two that moved is a change; a one-component workload is read against the whole
    comparison, and alone it cannot tell a drift from a change (no check)."""
    workloads = {"wl": {"a": ("neural", {"gemm": 4e-4, "other": 2e-4}), "b": ("neural", {"conv": 5e-4}),
                        "c": ("symbolic", {"other": 3e-4})}}
    every = {("wl", c, cat): 1.5 for c, cat in [("a", "gemm"), ("a", "other"), ("b", "conv"), ("c", "other")]}
    base = make_run(tmp_path / "base", workloads=workloads, n=8, seed=31)
    slower = compare_runs(base, make_run(tmp_path / "slow", workloads=workloads, n=8, seed=32, scale=every))
    assert slower.exit_code == 3 and slower.count("regressed") == 0, slower.table[["component", "category", "verdict"]]
    assert re.search(r"the new run took 1\.[45]\dx the base's time in the median of wl's 3 components", slower.reason())
    assert any("use same-job A/B" in n for n in slower.notes)
    on_top = {**every, ("wl", "b", "conv"): 3.0}
    worse = compare_runs(base, make_run(tmp_path / "worse", workloads=workloads, n=8, seed=33, scale=on_top))
    assert worse.exit_code == 1
    assert {r.component for r in worse.rows if r.verdict == "regressed"} == {"b", "(all)"}   # b and the workload
    one = compare_runs(base, make_run(tmp_path / "one", workloads=workloads, n=8, seed=34, scale={("wl", "b", "conv"): 2.0}))
    assert one.exit_code == 1 and not any("the base's time in" in n for n in one.notes)
    # two workloads: a slow spell over one of them (both its components 1.5x) is found in that one
    two = {"pair": {"a": workloads["wl"]["a"], "b": workloads["wl"]["b"]}, "solo": {"s": ("neural", {"gemm": 6e-4})}}
    spell = {("pair", "a", "gemm"): 1.5, ("pair", "a", "other"): 1.5, ("pair", "b", "conv"): 1.5}
    p0 = make_run(tmp_path / "p0", workloads=two, n=8, seed=35)
    drifted = compare_runs(p0, make_run(tmp_path / "p1", workloads=two, n=8, seed=36, scale=spell))
    assert drifted.exit_code == 3 and any("both of pair's components" in n for n in drifted.notes), drifted.notes
    changed = compare_runs(p0, make_run(tmp_path / "p2", workloads=two, n=8, seed=37, scale={("pair", "b", "conv"): 2.0}))
    assert changed.exit_code == 1 and {r.component for r in changed.rows if r.verdict == "regressed"} >= {"b"}
    solo = compare_runs(p0, make_run(tmp_path / "p3", workloads=two, n=8, seed=38, scale={("solo", "s", "gemm"): 2.0}))
    assert solo.exit_code == 1 and {r.workload for r in solo.rows if r.verdict == "regressed"} >= {"solo"}
    # the suite's total follows the drifts of its workloads, weighted by their time: a spell over the
    # big workload moves it although most components (the small workload's three) did not move
    big_small = {"big": {"a": ("neural", {"gemm": 2e-3}), "b": ("neural", {"conv": 2e-3})},
                 "small": {c: ("symbolic", {"other": 1e-4}) for c in ("x", "y", "z")}}
    over_big = {("big", "a", "gemm"): 1.5, ("big", "b", "conv"): 1.5}
    suite = compare_runs(make_run(tmp_path / "b0", workloads=big_small, n=8, seed=41),
                         make_run(tmp_path / "b1", workloads=big_small, n=8, seed=42, scale=over_big))
    row = next(r for r in suite.rows if r.workload == "(suite)")
    assert row.ratio > 1.4 and row.verdict == "inconclusive" and "weighted by its time" in row.note, row
    assert suite.exit_code == 3 and suite.count("regressed") == 0
    alone = {"solo": two["solo"]}
    assert compare_runs(make_run(tmp_path / "s0", workloads=alone, n=8, seed=39),
                        make_run(tmp_path / "s1", workloads=alone, n=8, seed=40, scale={("solo", "s", "gemm"): 1.5})
                        ).exit_code == 1


def test_round_drift_wider_than_the_threshold_is_inconclusive(tmp_path):
    """A/B rounds of unchanged code where one base round ran 40 % slower (a load spell): the rounds
    cannot resolve a 25 % change, so the gate says so instead of passing. The rounds' band of each
    side, unpaired (paired rounds: tests/gate/test_paired.py)."""
    from nscharacterize.gate.abrun import merge_runs

    slow = {k: 1.4 for k in [("mlp-demo", "encoder", c) for c in ("gemm", "sparse_mm", "elementwise", "embedding",
                                                                    "data_movement", "data_transform", "other")]}
    base = merge_runs([make_run(tmp_path / "a0", seed=1, n=6), make_run(tmp_path / "a1", seed=2, n=6, scale=slow)],
                      tmp_path / "A")
    new = merge_runs([make_run(tmp_path / "b0", seed=3, n=6), make_run(tmp_path / "b1", seed=4, n=6)], tmp_path / "B")
    unpaired = CompareSettings(paired=False)
    cmp = compare_runs(base, new, unpaired)
    assert cmp.exit_code == 3
    row = next(r for r in cmp.rows if (r.workload, r.component, r.category) == ("mlp-demo", "encoder", "total"))
    assert row.verdict == "inconclusive" and "the rounds of one side drift" in row.note
    # Paired rounds: the slow base round widens the band beyond the threshold too, but the pair it
    # is in shows new 29 % faster and the other pair no change, so a 25 % rise is ruled out.
    paired = next(r for r in compare_runs(base, new).rows
                  if (r.workload, r.component, r.category) == ("mlp-demo", "encoder", "total"))
    assert paired.test == "paired" and paired.noise_s > 0.25 * paired.base_s and paired.ratio < 0.95, paired
    quiet = merge_runs([make_run(tmp_path / "c0", seed=5, n=6), make_run(tmp_path / "c1", seed=6, n=6)], tmp_path / "C")
    assert compare_runs(quiet, new, unpaired).exit_code == 0


def test_a_big_unconfirmed_rise_of_a_total_under_the_floor_is_not_a_pass(tmp_path):
    """A 130 us component whose 25 % (33 us) is under the 50 us floor is exempt from proving that
    nothing changed, but a doubling adds 130 us, beyond the threshold and the floor: when the test
    cannot confirm that rise (noisy samples), the verdict is inconclusive, never a pass. (The power
    study's planted 2x of mlp-demo's 81 us encoder passed this way in 1-4 of 20 A/B trials.)"""
    from nscharacterize.gate.verdicts import gated

    tiny = {"tiny": {"net": ("neural", {"gemm": 6e-5})}}
    a = make_run(tmp_path / "a", workloads=tiny, n=4, noise=0.4, seed=11)
    b = make_run(tmp_path / "b", workloads=tiny, n=4, noise=0.4, seed=12, scale={("tiny", "net", "gemm"): 2.0})
    settings = CompareSettings(abs_floor_s=5e-5)   # the floor this case was found at
    cmp = compare_runs(a, b, settings)
    total = next(r for r in cmp.rows if (r.workload, r.component, r.category) == ("tiny", "net", "total"))
    # the case: under the floor at a 25 % change, a rise beyond the threshold and the floor, unconfirmed
    assert not gated(total, settings), total
    assert total.ratio >= 1.25 and total.delta_s >= settings.abs_floor_s and total.p_value >= settings.alpha, total
    assert total.verdict == "inconclusive", total
    assert cmp.exit_code == 3, cmp.reason()


def test_a_total_under_the_floor_passes_only_when_a_rise_of_the_floor_is_ruled_out(tmp_path):
    """A 100 us component can regress only by the 50 us floor (25 % of it is 25 us). When its samples
    scatter so that a rise of 50 us is not ruled out, it is inconclusive even though it shows less
    (the power study's baseline mode passed a planted 2x of mlp-demo's encoder that a slow base run
    had shrunk to +41 %); quiet samples of the same size pass, and a sliver of 5 us always does."""
    from nscharacterize.gate.verdicts import gated, smallest_regression, upper_bound

    small = {"small": {"net": ("neural", {"gemm": 1e-4}), "sliver": ("symbolic", {"other": 5e-6})}}
    settings = CompareSettings(abs_floor_s=5e-5)   # the floor this case was found at
    a = make_run(tmp_path / "a", workloads=small, n=4, noise=0.3, seed=23)
    b = make_run(tmp_path / "b", workloads=small, n=4, noise=0.3, seed=24, scale={("small", "net", "gemm"): 1.3})
    rows = {(r.component, r.category): r for r in compare_runs(a, b, settings).rows}
    net = rows[("net", "total")]
    assert not gated(net, settings) and net.delta_s < settings.abs_floor_s, net
    assert upper_bound(net) > smallest_regression(net, settings) == settings.abs_floor_s, net
    assert net.verdict == "inconclusive" and "a rise of 50.0 us (the absolute floor) is not ruled out" in net.note, net
    assert rows[("sliver", "total")].verdict == "unchanged", rows[("sliver", "total")]
    quiet_a = make_run(tmp_path / "qa", workloads=small, n=4, noise=0.02, seed=23)
    quiet_b = make_run(tmp_path / "qb", workloads=small, n=4, noise=0.02, seed=24, scale={("small", "net", "gemm"): 1.3})
    quiet = compare_runs(quiet_a, quiet_b, settings)
    assert quiet.exit_code == 0 and quiet.count("inconclusive") == 0, [(r.component, r.verdict, r.note) for r in quiet.rows]


def test_the_reason_line_says_what_the_exit_status_means():
    """An inconclusive row beside a regression is 'also inconclusive' (the gate failed anyway);
    alone it is INCONCLUSIVE (exit 3), or let through only when fail_on_inconclusive is off."""
    from nscharacterize.gate.formats import reason_line
    from nscharacterize.gate.verdicts import Comparison, Row

    def row(verdict: str, note: str = "") -> Row:
        return Row("w", "c", "category", "gemm", "neural", 1e-3, 2e-3, 2.0, 1e-3, 5e-4, 0.1, 0.1, 1e-4, 8, 8,
                   verdict=verdict, note=note)

    undecided = row("inconclusive", "a +100% rise the test cannot confirm")
    both = Comparison("a", "b", CompareSettings(), [row("regressed"), undecided])
    alone = Comparison("a", "b", CompareSettings(), [undecided])
    let_through = Comparison("a", "b", CompareSettings(fail_on_inconclusive=False), [undecided])
    assert both.exit_code == 1 and reason_line(both)[0].startswith("also inconclusive: w/c/gemm: a +100% rise")
    assert alone.exit_code == 3 and reason_line(alone)[0].startswith("INCONCLUSIVE: w/c/gemm")
    assert let_through.exit_code == 0 and reason_line(let_through)[0].startswith("inconclusive (fail_on_inconclusive is off)")
    assert reason_line(Comparison("a", "b", CompareSettings(), [row("regressed")])) == []


def test_a_doubling_of_a_component_of_tens_of_microseconds_fails_at_the_default_floor(tmp_path):
    """mlp-demo's encoder takes 38 us a sample on a fast machine: doubled, it rose by 38 us, under
    the 50 us floor of before, so the gate ruled out a rise of the floor and passed the 2x (the
    power study: 0 of 100 A/B trials caught it). At the default 5 us floor it fails; the same
    data at 50 us still passes, which is what the old default did."""
    small = {"mlp": {"encoder": ("neural", {"gemm": 3.8e-5})}}
    a = make_run(tmp_path / "a", workloads=small, n=8, noise=0.05, seed=41)
    b = make_run(tmp_path / "b", workloads=small, n=8, noise=0.05, seed=42, scale={("mlp", "encoder", "gemm"): 2.0})
    doubled = compare_runs(a, b, CompareSettings())
    total = next(r for r in doubled.rows if (r.component, r.category) == ("encoder", "total"))
    assert doubled.exit_code == 1 and total.verdict == "regressed", doubled.reason()
    assert compare_runs(a, b, CompareSettings(abs_floor_s=5e-5)).exit_code == 0
    same = make_run(tmp_path / "c", workloads=small, n=8, noise=0.05, seed=43)
    assert compare_runs(a, same, CompareSettings()).exit_code == 0


def test_a_component_measured_in_one_run_only_is_missing_or_added_not_within_noise(tmp_path):
    """Real traces, imported: the new run lost one component (x) and gained another (y) of the
    same workload. Their times must not be judged against nothing ("within noise" at -100%):
    one MISSING and one added row, no category rows for them, a note on the workload total, and
    a failing exit status, as for a missing workload."""
    fixtures = ROOT / "tests" / "fixtures" / "gpu-h100"
    for side, lone in (("a", "x"), ("b", "y")):
        (tmp_path / side).mkdir()
        (tmp_path / side / f"{lone}.json.gz").write_bytes((fixtures / "mlp-demo.encoder.0.json.gz").read_bytes())
        (tmp_path / side / "common.json.gz").write_bytes((fixtures / "nlm-path.policy.0.json.gz").read_bytes())
        assert cli("import-trace", str(tmp_path / side), "--out", str(tmp_path / "runs"), "--name", side).returncode == 0
    a, b = (next((tmp_path / "runs").glob(f"{side}-*")) for side in ("a", "b"))
    proc = cli("compare", str(a), str(b), "--format", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = json.loads(proc.stdout)["rows"]
    by_component = {}
    for row in rows:
        by_component.setdefault(row["component"], []).append(row)
    assert [(r["category"], r["verdict"]) for r in by_component["x"]] == [("total", "missing")]
    assert [(r["category"], r["verdict"]) for r in by_component["y"]] == [("total", "added")]
    assert by_component["x"][0]["base_s"] > 0 and by_component["y"][0]["new_s"] > 0
    assert not any(r["verdict"] == "within noise" for r in rows)
    assert "only in the base: x; only in the new run: y" in " ".join(json.loads(proc.stdout)["notes"])
    # the same runs, one against itself: nothing missing
    assert "missing" not in {r["verdict"] for r in json.loads(cli("compare", str(a), str(a), "--format", "json").stdout)["rows"]}


def test_runs_classified_by_different_rules_are_said_to_be(tmp_path):
    """One trace imported twice, the second time with a rule file of the user's: compare says the
    categories come from different rules (their change may be the rules', not the code's); the
    same rules say nothing. The digest follows what classifies, not a rule's id or reason."""
    from nscharacterize.taxonomy.classifier import Taxonomy

    trace = ROOT / "tests" / "fixtures" / "gpu-h100" / "mlp-demo.encoder.0.json.gz"
    rule = ("namespace: kernels\nrules:\n  - id: {}\n    match: 'void at::native::vectorized_gather_kernel.*'\n"
            "    category: data_transform\n    overrides_launcher: true\n    reason: {}\n")
    (tmp_path / "mine.yaml").write_text(rule.format("mine", "ours"))
    (tmp_path / "renamed.yaml").write_text(rule.format("renamed", "the same rule, said otherwise"))
    assert Taxonomy().digest == Taxonomy().digest != Taxonomy({"kernels": [tmp_path / "mine.yaml"]}).digest
    assert Taxonomy({"kernels": [tmp_path / "mine.yaml"]}).digest == Taxonomy({"kernels": [tmp_path / "renamed.yaml"]}).digest
    for name, extra in (("plain", []), ("again", []), ("ruled", ["--rules", f"kernels={tmp_path / 'mine.yaml'}"])):
        assert cli("import-trace", str(trace), "--out", str(tmp_path / "runs"), "--name", name, *extra).returncode == 0
    plain, again, ruled = (next((tmp_path / "runs").glob(f"{n}-*")) for n in ("plain", "again", "ruled"))
    said = "categories come from different rules"
    assert said in cli("compare", str(plain), str(ruled)).stdout
    assert "rules" in json.loads(cli("compare", str(plain), str(ruled), "--format", "json").stdout)["env_warnings"]
    assert said not in cli("compare", str(plain), str(again)).stdout


def test_a_fingerprint_key_one_run_does_not_record_reads_not_recorded(tmp_path):
    """A baseline from an earlier version has no `nscharacterize` (or `rules`) in its fingerprint:
    the note says "not recorded", not None."""
    base = make_run(tmp_path / "a", seed=1)
    new = make_run(tmp_path / "b", seed=2, fingerprint={"nscharacterize": "0.1.0", "rules": "f915a64395ad"})
    out = cli("compare", str(base), str(new)).stdout
    assert "note: environment differs: nscharacterize: not recorded -> '0.1.0'" in out, out
    assert "the base run does not record which rules classified it" in out, out
