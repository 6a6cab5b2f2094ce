"""Opening a run directory for the gate: the store's checks, plus what only the gate relies on.

``reports.store.RunDir`` validates the files themselves (JSON, schema number, required CSV
columns); this module adds only what the gate reads beyond them: the manifest fields that decide
environment checks, failed workloads and a run's identity, the ``kind`` column and finite times.
A run that lacks them is reported as damaged, never as an environment change or a crash later.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nscharacterize.reports import store
from nscharacterize.reports.store import RunDir, RunDirError

_DAMAGED = "the run directory is damaged; re-run it or copy it again"


def open_run(path: str | Path) -> tuple[RunDir, dict]:
    """The run directory and its manifest, checked for the fields the gate reads."""
    run = RunDir(path)
    return run, manifest(run)


def manifest(run: RunDir) -> dict:
    data = run.manifest
    file = run.path / store.MANIFEST

    def bad(key: str, what: str):
        return RunDirError(file, key, what, _DAMAGED)

    if "fingerprint" not in data:
        raise bad("fingerprint", "missing")
    if not isinstance(data["fingerprint"], dict):
        raise bad("fingerprint", f"must be a mapping, got {type(data['fingerprint']).__name__}")
    for key in ("config_hash", "git_commit", "created", "run_id"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise bad(key, f"must be a string, got {type(data[key]).__name__}")
    workloads = data.get("workloads")
    if not isinstance(workloads, list):
        raise bad("workloads", "missing" if workloads is None else f"must be a list, got {type(workloads).__name__}")
    for i, w in enumerate(workloads):
        if not isinstance(w, dict) or not isinstance(w.get("name"), str) or not isinstance(w.get("status", "ok"), str):
            raise bad(f"workloads[{i}]", "must be a mapping with a string name and status")
    return data


def samples(run: RunDir) -> pd.DataFrame:
    """samples.csv with the ``kind`` column and finite times the gate needs."""
    df = run.samples()
    file = run.path / store.SAMPLES
    if "kind" not in df.columns:
        raise RunDirError(file, "columns", "missing column(s) ['kind']", "rerun `nscharacterize run` with this version")
    if len(df) and not np.isfinite(pd.to_numeric(df["time_s"], errors="coerce").to_numpy(dtype=float)).all():
        raise RunDirError(file, "time_s", "has non-numeric or infinite values", "rerun `nscharacterize run`; the file is corrupt")
    return df


def ok_workloads(manifest: dict, samples: pd.DataFrame) -> tuple[set[str], set[str]]:
    """(workloads with samples that did not fail, workloads the manifest marks as failed)."""
    names = set(samples["workload"].unique())
    failed = {w["name"] for w in manifest["workloads"] if w.get("status", "ok") != "ok"}
    return names - failed, failed


def identity(run: RunDir, manifest: dict) -> str:
    """What makes two runs the same run: the manifest's ``run_id`` (a UUID the pipeline writes),
    else the resolved run-directory path (runs written before run_id existed)."""
    return manifest.get("run_id") or str(run.path.resolve())
