"""Opening a run directory for the gate.

``reports.store.RunDir`` validates everything the gate reads when it loads it: the manifest's
fingerprint, workload records, identity and hash fields (``rundir.manifest.Manifest``), and samples.csv's
columns, including ``kind``, with finite times. A run that lacks them is reported there as
damaged, never as an environment change or a crash later; this module adds no checks of its own.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from nscharacterize.rundir.store import MANIFEST, RunDir, RunDirError, effective_status


def open_run(path: str | Path) -> tuple[RunDir, dict]:
    """The run directory and its (validated) manifest."""
    run = RunDir(path)
    return run, run.manifest


def check_finished(run: RunDir, manifest: dict) -> None:
    """Refuses a run whose writer is still at work (its files change under the reader): what the
    history or a baseline keeps must be final."""
    if effective_status(manifest) == "running":
        raise RunDirError(run.path / MANIFEST, "status", f"the run is still being written (pid {manifest.get('pid')})",
                          "wait for it to finish, then add it (or `nscharacterize report` it if its process died)")


def ok_workloads(manifest: dict, samples: pd.DataFrame) -> tuple[set[str], set[str]]:
    """(workloads with samples that did not fail, workloads the manifest marks as failed)."""
    names = set(samples["workload"].unique())
    failed = {w["name"] for w in manifest["workloads"] if w.get("status", "ok") != "ok"}
    return names - failed, failed


def identity(run: RunDir, manifest: dict) -> str:
    """What makes two runs the same run: the manifest's ``run_id`` (a UUID the pipeline writes),
    else the resolved run-directory path (runs written before run_id existed)."""
    return manifest.get("run_id") or str(run.path.resolve())
