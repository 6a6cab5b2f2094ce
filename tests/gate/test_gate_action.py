"""The GitHub Action (action.yml) and its one script, scripts/gate_action.sh, run here as Actions
would run it on a pull request: in a clone of a user's repository whose `origin` holds the base
branch, with fake GITHUB_* variables and no network (origin is a folder)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from clirun import ROOT, SUPPORT
from user_repo import commit_model, git, make_user_repo

SCRIPT = ROOT / "scripts" / "gate_action.sh"


def _pull_request(tmp_path: Path) -> Path:
    """origin (main: base and a comment-only commit) and a clone on branch `pr` with the 2x slowdown."""
    origin = tmp_path / "origin"
    origin.mkdir()
    make_user_repo(origin, slow=False)
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True)
    git(work, "checkout", "-q", "-b", "pr")
    commit_model(work, 2, "", "slower model")
    return work


def _action(work: Path, tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, dict, str]:
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    full = {**os.environ, "GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "pr", "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_WORKSPACE": str(work), "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs),
            "NSC_PYTHON": sys.executable, "NSC_INSTALL": "none", "NSC_CONFIG": "perf.yaml", "COLUMNS": "160",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")])), **env}
    proc = subprocess.run(["bash", str(SCRIPT)], cwd=work, env=full, capture_output=True, text=True, timeout=1800)
    outs = dict(line.split("=", 1) for line in outputs.read_text().splitlines()) if outputs.exists() else {}
    return proc, outs, summary.read_text() if summary.exists() else ""


def test_action_yml_runs_the_script_and_uploads_the_reports():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    gate, upload = action["runs"]["steps"]
    assert "scripts/gate_action.sh" in gate["run"] and gate["id"] == "gate"
    assert upload["uses"].startswith("actions/upload-artifact@") and upload["if"] == "always()"
    assert upload["with"]["path"] == "${{ inputs.report-dir }}"
    assert set(action["outputs"]) == {"exit-code", "status", "report-dir"}
    assert action["inputs"]["config"]["required"] is True
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0


@pytest.mark.slow
def test_action_script_fails_a_pull_request_that_slows_a_model(tmp_path):
    work = _pull_request(tmp_path)
    # the base branch is not fetched yet: the script fetches it from origin (a folder here)
    git(work, "update-ref", "-d", "refs/remotes/origin/main")
    proc, outs, summary = _action(work, tmp_path, NSC_ROUNDS="2")
    # a regression (exit 1), or on a machine too loaded to measure it, inconclusive (exit 3): the job fails
    assert proc.returncode in (1, 3), proc.stderr[-3000:]
    status = {1: "FAIL", 3: "INCONCLUSIVE"}[proc.returncode]
    assert outs == {"exit-code": str(proc.returncode), "status": status, "report-dir": "nsc-gate"}
    mark = {1: ":x:", 3: ":warning:"}[proc.returncode]
    assert summary.startswith(f"### nscharacterize compare {mark} {status}: ") and "| model | net | total |" in summary
    reports = work / "nsc-gate"
    for name in ("compare.md", "compare.json", "compare.html", "compare.log", "A/manifest.json", "B/manifest.json"):
        assert (reports / name).is_file(), name
    assert len(git(work, "worktree", "list").splitlines()) == 1


def test_action_script_bad_input_is_one_line_and_exit_2(tmp_path):
    work = tmp_path / "repo"
    work.mkdir()
    make_user_repo(work, slow=False)
    proc, outs, summary = _action(work, tmp_path, NSC_CONFIG="missing.yaml")
    assert proc.returncode == 2 and outs["status"] == "ERROR"
    assert proc.stderr.strip().splitlines()[-1].startswith("gate_action: error: missing.yaml: no such config")
    assert "error" in summary
    # no pull request and no base given
    env = {"GITHUB_BASE_REF": ""}
    proc, outs, _ = _action(work, tmp_path, **env)
    assert proc.returncode == 2 and "no base ref" in proc.stderr
    # a base ref that does not exist: compare's own one line, exit 2
    proc, outs, summary = _action(work, tmp_path, NSC_BASE="no-such-ref")
    assert proc.returncode == 2 and outs["status"] == "ERROR", proc.stderr
    assert "nscharacterize: error: " in proc.stderr and "no-such-ref" in summary
