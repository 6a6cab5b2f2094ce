"""The run directory: the one on-disk format that the pipeline writes and every report reads.

Every file name of a run directory is defined here and nowhere else. Every file is written
atomically (``nscharacterize.fileio.atomic_write``), so a crash or a failing workload never leaves
a half-written table behind, and a reader sees either the old file or the new one.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import yaml

from nscharacterize.errors import UserError
from nscharacterize.fileio import atomic_write, dump_yaml, read_text

SCHEMA = 1
CONFIG = "config.yaml"
MANIFEST = "manifest.json"
EVENTS = "events.parquet"
TIMINGS = "timings.csv"
SAMPLES = "samples.csv"
BREAKDOWN = "breakdown.csv"
CHECKS = "checks.csv"
TABLE = "table.md"
HEATMAP = "heatmap.png"
BARS = "breakdown.png"
PYTHON_PLOT = "python_breakdown.png"
SYSTEM = "system.csv"
SYSTEM_PLOT = "system.png"
REPORT_HTML = "report.html"
ROOFLINE = "roofline.csv"
ROOFLINE_PLOT = "roofline.png"
LOG = "run.log"
TRACES = "traces"

# A sweep directory: its own manifest and resolved config, one run directory per point under
# points/, and the scaling results.
SWEEP_MANIFEST = "sweep.json"
SWEEP_CONFIG = "sweep.yaml"
SWEEP_POINTS = "points"
SCALING = "scaling.csv"
SCALING_PLOT = "scaling.png"


def create_run_path(root: str | Path, name: str) -> Path:
    """A new, empty folder ``root/name-<UTC timestamp>[-n]`` (``-n`` when that second is taken)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        path = root / (f"{name}-{stamp}" if n == 1 else f"{name}-{stamp}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1


def is_sweep_dir(path: str | Path) -> bool:
    return (Path(path) / SWEEP_MANIFEST).is_file()


class RunDirError(UserError):
    """A run directory that cannot be read: the file, what is wrong and the fix."""


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    # ---- writing -------------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, name: str) -> "RunDir":
        return cls(create_run_path(root, name))

    def write_text(self, name: str, text: str) -> Path:
        return self._atomic(name, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    def write_json(self, name: str, data: Any) -> Path:
        return self.write_text(name, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")

    def write_yaml(self, name: str, data: Any) -> Path:
        return self.write_text(name, dump_yaml(data))

    def write_csv(self, name: str, frame: pd.DataFrame) -> Path:
        return self._atomic(name, lambda tmp: frame.to_csv(tmp, index=False))

    def write_parquet(self, name: str, frame: pd.DataFrame) -> Path:
        return self._atomic(name, lambda tmp: frame.to_parquet(tmp, index=False))

    def write_figure(self, name: str, fig) -> Path:
        return self._atomic(name, lambda tmp: fig.savefig(tmp, format="png", dpi=130, bbox_inches="tight"))

    def _atomic(self, name: str, write: Callable[[str], Any]) -> Path:
        return atomic_write(self.path / name, write)

    # ---- reading -------------------------------------------------------------------------------
    @property
    def manifest(self) -> dict:
        path = self._need(MANIFEST)
        try:
            data = json.loads(read_text(path, "manifest", RunDirError))
        except json.JSONDecodeError as exc:
            raise RunDirError(path, "", f"corrupt JSON (line {exc.lineno})", "re-run or re-copy the run") from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise RunDirError(path, "schema", f"not an nscharacterize manifest of schema {SCHEMA}",
                              "was it written by another version?")
        return data

    @property
    def config(self) -> dict:
        path = self._need(CONFIG)
        try:
            return yaml.safe_load(read_text(path, "config", RunDirError)) or {}
        except yaml.YAMLError:
            raise RunDirError(path, "", "corrupt YAML", "re-run or re-copy the run") from None

    def events(self) -> pd.DataFrame:
        path = self._need(EVENTS)
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise RunDirError(path, "", f"unreadable parquet ({type(exc).__name__})", "re-run the profile") from None

    def timings(self) -> pd.DataFrame:
        return self._csv(TIMINGS, ["workload", "component", "sample", "wall_s", "profiled_wall_s"])

    def samples(self) -> pd.DataFrame:
        return self._csv(SAMPLES, ["workload", "component", "axis", "category", "sample", "time_s"])

    def breakdown(self) -> pd.DataFrame:
        return self._csv(BREAKDOWN, ["workload", "component", "axis", "category", "time_s", "share"])

    def checks(self) -> pd.DataFrame:
        return self._csv(CHECKS, ["workload", "component", "sample", "addup_error_s"])

    def _csv(self, name: str, required: list[str]) -> pd.DataFrame:
        path = self._need(name)
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise RunDirError(path, "", f"corrupt CSV ({type(exc).__name__})", "re-run or re-copy the run") from None
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise RunDirError(path, "columns", f"missing column(s) {missing}",
                              "it was not written by nscharacterize or was edited by hand; re-run")
        return frame

    def _need(self, name: str) -> Path:
        if not self.path.is_dir():
            raise RunDirError(self.path, "", "no such run directory", "give a folder written by 'nscharacterize run'")
        path = self.path / name
        if not path.is_file():
            raise RunDirError(path, "", "missing; the run directory is incomplete", "did the run finish? re-run it")
        return path
