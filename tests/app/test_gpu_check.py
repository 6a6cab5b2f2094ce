"""scripts/gpu_check.sh, the prepared GPU session: its syntax, and its CPU-only dry mode, which
writes every step it would run and runs none (no GPU here; the real run is for a GPU session)."""
from __future__ import annotations

import os
import subprocess
import sys

from clirun import ROOT

SCRIPT = ROOT / "scripts" / "gpu_check.sh"


def _dry(tmp_path, *args, **env_vars):
    env = dict(os.environ, OUT=str(tmp_path / "out"), PYTHON=sys.executable, **env_vars)
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_script_parses():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0


def test_dry_run_lists_every_step_and_runs_none(tmp_path):
    done = _dry(tmp_path, "--dry-run")
    assert done.returncode == 0, done.stderr
    steps = {}
    for line in (tmp_path / "out" / "steps.log").read_text().splitlines():
        mode, name, cmd = line.split("\t", 2)
        assert mode == "DRY"
        steps[name] = cmd
    papers = sorted(p.stem for p in (ROOT / "configs" / "paper").glob("*.yaml"))
    assert [n[len("paper-"):] for n in steps if n.startswith("paper-")] == papers
    assert "-m cuda tests" in steps["cuda-tests-marked"]
    assert "tests/profiler/test_ncu_report.py::test_cuda_run_pushes_real_ranges_around_timed_passes" \
        in steps["cuda-tests-decorated"]
    assert "run configs/quickstart.yaml --device cuda --samples 1 --trace" in steps["quickstart"]
    assert "import-trace" in steps["import-trace"]
    assert "--nvtx" in steps["ncu-collect"] and "dram__bytes.sum" in steps["ncu-collect"]
    assert "--page raw" in steps["ncu-export"] and "ncu-import" in steps["ncu-import"]
    summary = (tmp_path / "out" / "summary.tsv").read_text().splitlines()
    assert summary[0] == "step\tstatus\tseconds" and all(r.split("\t")[1] == "dry" for r in summary[1:])
    assert not list((tmp_path / "out").glob("runs*"))      # nothing ran


def test_unknown_argument_is_one_line_and_exit_2(tmp_path):
    done = _dry(tmp_path, "--wet")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["gpu_check.sh: error: unknown argument --wet; use --dry-run or nothing"]


def test_a_short_session_picks_its_paper_configs_and_leaves_nsight_compute_out(tmp_path):
    """PAPER names the paper configs to run, in its order; SKIP_NCU=1 leaves the ncu steps out and
    says so in the summary."""
    done = _dry(tmp_path, "--dry-run", PAPER="nsdr nscl", SKIP_NCU="1")
    assert done.returncode == 0, done.stderr
    names = [line.split("\t")[1] for line in (tmp_path / "out" / "steps.log").read_text().splitlines()]
    assert [n for n in names if n.startswith("paper-")] == ["paper-nsdr", "paper-nscl"]
    assert not [n for n in names if n.startswith("ncu")]
    assert "ncu\tskipped: SKIP_NCU=1\t0" in (tmp_path / "out" / "summary.tsv").read_text().splitlines()
