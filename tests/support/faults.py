"""Shared checks of the fault-injection suite (tests/faults/test_faults_*.py).

``cli`` calls the real entry point, ``nscharacterize.cli.main``, in this process (fast: torch is
imported once); the tests that need a process to die or receive a signal use ``run_cli``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from nscharacterize.cli import main
from nscharacterize.rundir.store import RunDir

SUPPORT = Path(__file__).resolve().parent
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))  # fault_models and user_models, as run_cli's PYTHONPATH has it


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of one in-process CLI call."""
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse leaves through exit()
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line(code: int, err: str, *needles: str, status: int = 2) -> str:
    """The call exited with ``status`` and printed exactly one error line holding every needle."""
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == status, (code, err)
    assert len(lines) == 1, err
    assert "Traceback" not in err
    line = lines[0]
    assert line.startswith("nscharacterize: "), line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def run_dirs(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).iterdir() if p.is_dir()) if Path(root).exists() else []


def assert_consistent(path: Path, status: str) -> dict:
    """The run directory after a fault: schema-valid files, the expected status, per workload as
    many saved samples as the manifest says were done, derived tables up to date, table.md."""
    run = RunDir(path)
    manifest = run.manifest
    assert manifest["status"] == status, manifest["status"]
    timings, samples = run.timings(), run.samples()
    events = run.events()
    for w in manifest["workloads"]:
        done = timings.loc[timings["workload"] == w["name"], "sample"].nunique()
        assert w.get("samples_done", 0) == done, (w, done)
        assert set(samples.loc[samples["workload"] == w["name"], "sample"]) == set(
            timings.loc[timings["workload"] == w["name"], "sample"]), w["name"]
        assert set(timings.loc[timings["workload"] == w["name"], "sample"]) <= set(
            events.loc[events["workload"] == w["name"], "sample"]), w["name"]
    assert (path / "table.md").is_file()
    if len(timings):
        assert (path / "report.html").is_file() and not run.breakdown().empty
    json.loads((path / "manifest.json").read_text())
    assert not [p for p in path.iterdir() if p.name.startswith(".")], "temporary files left behind"
    return manifest


def workload_status(manifest: dict) -> dict[str, str]:
    return {w["name"]: w["status"] for w in manifest["workloads"]}


def frame_rows(path: Path, name: str) -> int:
    return len(pd.read_csv(path / name))
