"""The run directory: the one on-disk format that the pipeline writes and every report reads.

Every file name of a run directory, and the schema every file is checked against when it is
loaded, are defined here and nowhere else. Every file is written atomically
(``nscharacterize.core.fileio.atomic_write``), so a crash or a failing workload never leaves a
half-written table behind, and a reader sees either the old file or the new one. A reader gets
either a frame that satisfies the schema or one ``RunDirError`` line naming the file, the key and
the fix: no reader downstream re-checks a field.

A run that is still being written has ``status: running`` and the writer's ``pid``, ``host`` and
process start time in its manifest; ``effective_status`` tells a live run from one whose process
was killed outright (SIGKILL, the OOM killer), which no handler can record.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Literal

import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nscharacterize.core.errors import UserError, key_path
from nscharacterize.core.fileio import atomic_write, dump_yaml, parse_yaml

from . import samplelog

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
ROOFLINE_MEASURED = "roofline_measured.csv"   # attribution/measured.COLUMNS, written by ncu-import
MEMORY = "memory.csv"        # profiler/opmetrics.MEMORY_COLUMNS
SPARSITY = "sparsity.csv"    # profiler/opmetrics.SPARSITY_COLUMNS
COUNTERS = "counters.csv"    # profiler/opmetrics.COUNTER_COLUMNS
LOG = "run.log"
TRACES = "traces"
SPOOL = "spool"      # finished samples not yet parsed (nscharacterize/profiler/spool.py)

# A sweep directory: its own manifest and resolved config, one run directory per point under
# points/, and the scaling results.
SWEEP_MANIFEST = "sweep.json"
SWEEP_CONFIG = "sweep.yaml"
SWEEP_POINTS = "points"
SCALING = "scaling.csv"
SCALING_PLOT = "scaling.png"


def create_run_path(root: str | Path, name: str, where: tuple[str | None, str] = (None, "--out")) -> Path:
    """A new, empty folder ``root/name-<UTC timestamp>[-n]`` (``-n`` when that second is taken:
    ``mkdir`` is atomic, so of two runs started in the same second one gets ``-2``).

    ``name`` must be one plain file name (``check_name``). ``where`` is the (file, key) ``root``
    came from (``--out``, or a config's ``output``) for the one-line error when ``root`` is a file,
    cannot be created or is not writable.
    """
    check_name(name, where="name")
    file, key = where
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise RunDirError(file, key, f"{root} is a file, not a folder", "give a folder for run directories") from None
    except NotADirectoryError:
        raise RunDirError(file, key, f"a parent of {root} is a file", "give a folder path") from None
    except OSError as exc:
        raise RunDirError(file, key, f"cannot create {root} ({exc.strerror})",
                          "give a folder you can write to") from None
    if not root.is_dir():
        raise RunDirError(file, key, f"{root} is not a folder", "give a folder for run directories")
    n = 1
    while True:
        path = root / (f"{name}-{stamp}" if n == 1 else f"{name}-{stamp}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            n += 1
            continue
        except OSError as exc:
            raise RunDirError(file, key, f"cannot create a folder in {root} ({exc.strerror})",
                              "give a folder you can write to") from None
        if path.resolve().parent != root.resolve():  # check_name makes this impossible; keep it so
            raise RunDirError(file, "name", f"{name!r} leaves {root}", "use a plain name")
        return path


def is_sweep_dir(path: str | Path) -> bool:
    return (Path(path) / SWEEP_MANIFEST).is_file()

# Run and workload statuses. ``killed`` is never written by the run itself: it is what a
# ``running`` manifest means once its process is gone (see ``effective_status``).
RUN_STATUSES = ("running", "ok", "partial", "failed", "interrupted", "killed")
WORKLOAD_STATUSES = ("running", "ok", "error", "interrupted", "not_run", "killed")

MAX_NAME = 100  # characters of a run or workload name: it becomes a folder or file name

# ---- the schema of the tables --------------------------------------------------------------------
# Per file: the columns a reader needs, with their kind; ``?`` marks a column that may be empty
# (not measured). Other columns are allowed (a merged A/B run adds ``round``).
_S, _I, _F, _B = "str", "int", "float", "bool"
CSV_SCHEMA: dict[str, dict[str, str]] = {
    TIMINGS: {"workload": _S, "component": _S, "kind": _S, "profiler": _S, "device": _S, "sample": _I,
              "wall_s": _F, "wall_min_s": _F, "wall_max_s": _F, "repeats": _I, "profiled_wall_s": _F,
              "overhead": _F + "?", "peak_mem_bytes": _F + "?"},
    SAMPLES: {"workload": _S, "component": _S, "kind": _S, "device": _S, "axis": _S, "category": _S,
              "sample": _I, "time_s": _F},
    BREAKDOWN: {"workload": _S, "component": _S, "kind": _S, "device": _S, "axis": _S, "category": _S,
                "time_s": _F, "share": _F, "std_s": _F + "?", "p25_s": _F, "p75_s": _F, "min_s": _F,
                "max_s": _F, "n_samples": _I},
    CHECKS: {"workload": _S, "component": _S, "sample": _I, "wall_s": _F, "profiled_wall_s": _F,
             "scale": _F, "addup_error_s": _F, "clamped": _B},
}
# events.parquet: the columns classification and attribution read (nscharacterize/profiler/events.py COLUMNS
# defines the full table).
# Numeric columns a file may have but older runs lack (not required): an empty cell is "not
# measured" (NaN), never text (a CPU-only row's median kernel beside a GPU row's).
OPTIONAL_NUMERIC: dict[str, tuple[str, ...]] = {
    TIMINGS: ("resident_mem_bytes", "kernel_launches", "median_kernel_us")}
EVENT_COLUMNS = {"workload": _S, "component": _S, "kind": _S, "sample": _I, "source": _S, "device": _S,
                 "name": _S, "ancestors": _S, "children": _S, "calls": _I, "self_cpu_us": _F,
                 "self_device_us": _F}
CLASSIFIED_COLUMNS = ("category", "subcategory", "rule")


def config_hash(resolved: dict) -> str:
    """The identity of a resolved config: what the manifest records and config.yaml must match."""
    return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:16]


class RunDirError(UserError):
    """A run directory that cannot be read: the file, what is wrong and the fix."""


class _NoLog(Exception):
    """compact_events_log: the log has no readable schema; nothing is written."""


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class WorkloadRecord(_Loose):
    name: str
    status: Literal[WORKLOAD_STATUSES]  # type: ignore[valid-type]
    workload: str
    error: str | None = None
    samples: int
    params: dict = Field(default_factory=dict)
    samples_done: int | None = None
    seconds: float | int | None = None
    machine: dict | None = None        # what the machine did during this workload (profiler/machine_noise.py)


class Manifest(_Loose):
    """What a reader may rely on in manifest.json (the writer adds more: command, info, ...)."""

    schema_: Literal[SCHEMA] = Field(alias="schema")  # type: ignore[valid-type]
    fingerprint: dict                  # first: what the gate relies on is what a damaged manifest names
    workloads: list[WorkloadRecord]
    name: str
    status: Literal[RUN_STATUSES]  # type: ignore[valid-type]
    created: str
    finished: str | None = None
    seed: int | None = None            # None: an imported trace (no seed, no config)
    samples: int
    warmup: int
    repeats: int
    config_hash: str | None = None
    git_commit: str | None = None
    run_id: str | None = None          # a UUID per run: the gate's identity of a run (older runs lack it)
    checks: dict
    pid: int | None = None
    host: str | None = None
    pid_started: str | None = None
    # what the machine was doing during the run: load, other processes' CPU time, frequency, the
    # spread of its own repeats (profiler/machine_noise.py); the gate's noise evidence
    machine: dict | None = None


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    # ---- writing -------------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, name: str, where: tuple[str | None, str] = (None, "--out")) -> "RunDir":
        """A new, empty run directory (``create_run_path``); safe against concurrent runs."""
        return cls(create_run_path(root, name, where))

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

    # ---- the append-only logs of a run in progress (nscharacterize/rundir/samplelog.py) -------
    def sample_logs(self) -> tuple[samplelog.SampleLog, samplelog.SampleLog]:
        """The (events, timings) logs a run appends each finished sample to."""
        return samplelog.SampleLog(self.path / samplelog.EVENTS_LOG), samplelog.SampleLog(self.path / samplelog.TIMINGS_LOG)

    def has_logs(self) -> bool:
        return any((self.path / name).is_file() for name in samplelog.LOGS)

    def compact_events_log(self) -> int:
        """events.parquet from the events log, a row group at a time (memory does not grow with
        the samples); returns its rows, -1 when there is no readable log (nothing written)."""
        log = self.path / samplelog.EVENTS_LOG
        if not log.is_file():
            return -1
        rows = [-1]

        def write(tmp: str) -> None:
            rows[0] = samplelog.compact_events(log, tmp)
            if rows[0] < 0:
                raise _NoLog()
        try:
            self._atomic(EVENTS, write)
        except _NoLog:
            pass
        return rows[0]

    def drop_logs(self) -> None:
        """After events.parquet and timings.csv hold every logged row."""
        samplelog.remove(self.path)

    # ---- reading -------------------------------------------------------------------------------
    @property
    def manifest(self) -> dict:
        """The manifest, checked against ``Manifest``; a dict, as written."""
        path = self._need(MANIFEST)
        data = read_json(path)
        if not isinstance(data, dict):
            raise RunDirError(path, "(top level)", f"a JSON {type(data).__name__}, not an object",
                              "the manifest is damaged; re-run or re-copy the run")
        if data.get("schema") != SCHEMA:
            raise RunDirError(path, "schema", f"not an nscharacterize manifest of schema {SCHEMA} "
                              f"(got {data.get('schema')!r})", "re-run it with this version")
        try:
            Manifest.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = key_path(err["loc"]) or "(top level)"
            got = err.get("input")
            got = f" (got {got!r})" if not isinstance(got, (dict, list)) else ""
            what = "required field is missing" if err["type"] == "missing" else f"{err['msg'].lower()}{got}"
            raise RunDirError(path, key, what, "the manifest is damaged; re-run or re-copy the run") from None
        return data

    @property
    def config(self) -> dict:
        path = self._need(CONFIG)
        data = parse_yaml(_text(path), path, "run's config", RunDirError, "re-run or re-copy the run")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise RunDirError(path, "(top level)", f"must be a mapping, not a {type(data).__name__}",
                              "re-run or re-copy the run")
        if (self.path / MANIFEST).is_file():
            expected = self.manifest.get("config_hash")
            if expected and config_hash(data) != expected:
                raise RunDirError(path, "", f"does not match the manifest's config_hash {expected} "
                                  "(edited, truncated or from another run)", "re-run or re-copy the run")
        return data

    def events(self) -> pd.DataFrame:
        """The classified events: of a run in progress (or killed) from its append-only log."""
        path, frame = self._logged(samplelog.EVENTS_LOG)
        if frame is None:
            path = self._need(EVENTS)
            try:
                frame = pd.read_parquet(path)
            except Exception as exc:  # pyarrow raises several types for a damaged file
                raise RunDirError(path, "", f"unreadable parquet ({type(exc).__name__})", "re-run the profile") from None
        _check_columns(path, frame, EVENT_COLUMNS)
        missing = [c for c in CLASSIFIED_COLUMNS if c not in frame.columns]
        if missing:
            raise RunDirError(path, "columns", f"missing column(s) {missing}", "re-run the profile")
        return frame

    def timings(self) -> pd.DataFrame:
        """Per-sample timings: of a run in progress (or killed) from its append-only log."""
        path, frame = self._logged(samplelog.TIMINGS_LOG)
        if frame is not None:
            return _check_columns(path, frame, CSV_SCHEMA[TIMINGS])
        return self._csv(TIMINGS)

    def _logged(self, name: str) -> tuple[Path, pd.DataFrame | None]:
        path = self.path / name
        if not path.is_file():
            return path, None
        try:
            return path, samplelog.read_frame(path)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise RunDirError(path, "", f"unreadable sample log ({type(exc).__name__})", "re-run the profile") from None

    def samples(self) -> pd.DataFrame:
        return self._csv(SAMPLES)

    def breakdown(self) -> pd.DataFrame:
        return self._csv(BREAKDOWN)

    def checks(self) -> pd.DataFrame:
        return self._csv(CHECKS)

    def _csv(self, name: str) -> pd.DataFrame:
        path = self._need(name)
        schema = CSV_SCHEMA[name]
        text_cols = [c for c, kind in schema.items() if kind == _S]
        raw = path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            raise RunDirError(path, "", "truncated (the last line is incomplete)", "re-run or re-copy the run")
        try:
            frame = pd.read_csv(path, dtype={c: str for c in text_cols}, keep_default_na=False,
                                na_values={c: [""] for c in (*schema, *OPTIONAL_NUMERIC.get(name, ()))
                                           if c not in text_cols})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
            raise RunDirError(path, "", f"corrupt CSV ({type(exc).__name__})", "re-run or re-copy the run") from None
        return _check_columns(path, frame, schema)

    def _need(self, name: str) -> Path:
        if not self.path.is_dir():
            raise RunDirError(self.path, "", "no such run directory", "give a folder written by 'nscharacterize run'")
        path = self.path / name
        if not path.is_file():
            raise RunDirError(path, "", "missing; the run directory is incomplete", "did the run finish? re-run it")
        return path


def read_json(path: Path) -> Any:
    """Parsed JSON of a run or sweep directory's file; a damaged one (bad syntax, nested past
    Python's recursion limit, an integer of thousands of digits) is one RunDirError line."""
    try:
        return json.loads(_text(path))
    except json.JSONDecodeError as exc:
        raise RunDirError(path, "", f"corrupt JSON (line {exc.lineno})", "re-run or re-copy the run") from None
    except (RecursionError, ValueError) as exc:
        what = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:80]
        raise RunDirError(path, "", f"unreadable JSON ({what})", "re-run or re-copy the run") from None


def _text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunDirError(path, "", f"not UTF-8 text (byte {exc.start})",
                          "the file is damaged; re-run or re-copy the run") from None
    except OSError as exc:
        raise RunDirError(path, "", f"cannot read it ({exc.strerror})", "check its permissions") from None


def _check_columns(path: Path, frame: pd.DataFrame, schema: dict[str, str]) -> pd.DataFrame:
    """Every required column present and of its kind; returns the frame with those columns typed."""
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise RunDirError(path, "columns", f"missing column(s) {missing}",
                          "it was not written by nscharacterize or was edited by hand; re-run")
    fix = "the file is damaged; re-run or re-copy the run"
    for col, kind in schema.items():
        nullable = kind.endswith("?")
        kind = kind.rstrip("?")
        values = frame[col]
        if kind == _S:
            bad = ~values.map(lambda v: isinstance(v, str)) if values.dtype == object else None
            if bad is None and not (pd.api.types.is_string_dtype(values) or isinstance(values.dtype, pd.CategoricalDtype)):
                raise RunDirError(path, col, f"holds {values.dtype} values, not text", fix)
            if bad is not None and bad.any():
                row = int(bad.to_numpy().argmax())
                raise RunDirError(path, col, f"row {row + 1}: {values.iloc[row]!r} is not text", fix)
            continue
        if kind == _B:
            ok = values.isin([True, False, "True", "False"])
            if not ok.all():
                row = int((~ok).to_numpy().argmax())
                raise RunDirError(path, col, f"row {row + 1}: {values.iloc[row]!r} is not True/False", fix)
            frame[col] = values.isin([True, "True"])
            continue
        try:
            numbers = pd.to_numeric(values, errors="coerce")
        except OverflowError:  # a number of hundreds of digits
            raise RunDirError(path, col, "holds a number too large to read", fix) from None
        bad = numbers.isna() & (values.notna() if nullable else True)
        if kind == _I:
            bad |= numbers.notna() & (numbers % 1 != 0)
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise RunDirError(path, col, f"row {row + 1}: {values.iloc[row]!r} is not a{'n integer' if kind == _I else ' number'}", fix)
        if kind == _F and ((numbers.abs() == math.inf).any()):
            raise RunDirError(path, col, "holds an infinite value", fix)
        if kind == _I and values.dtype.kind not in "iu":
            frame[col] = numbers.astype("int64")
        elif kind == _F and values.dtype.kind != "f":
            frame[col] = numbers.astype("float64")
    return frame


def check_name(name: str, where: str = "name") -> str:
    """A run or workload name becomes a folder or file name: it must stay one plain name."""
    fix = f"use letters, digits, '-', '_', '.' or spaces (at most {MAX_NAME} characters)"
    if not isinstance(name, str) or not name.strip():
        raise UserError(None, where, "is empty", fix)
    if len(name) > MAX_NAME:
        raise UserError(None, where, f"is {len(name)} characters long", fix)
    if name in (".", "..") or name.startswith(".."):
        raise UserError(None, where, f"{name!r} would leave the output folder", fix)
    bad = sorted({c for c in name if c in "/\\" or ord(c) < 32 or ord(c) == 127})
    if bad:
        shown = ", ".join("NUL" if c == "\0" else repr(c) for c in bad)
        raise UserError(None, where, f"{name[:40]!r} contains {shown}", fix)
    return name


# ---- is the writer still alive? -----------------------------------------------------------------
def process_identity() -> dict:
    """What a manifest records about the process writing it: enough to tell later if it died."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "pid_started": _start_time(os.getpid())}


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), which a reused pid does not share."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):  # gone, or no pid at all (2**40, -5)
        return False
    except PermissionError:  # someone else's process with that pid: not our writer, if start differs
        pass
    return started is None or _start_time(pid) in (None, started)


def effective_status(manifest: dict) -> str:
    """``killed`` for a ``running`` manifest whose writer is gone from this host; else as written.

    A run directory copied from another host keeps ``running``: nothing here can tell.
    """
    status = manifest.get("status", "")
    if status != "running" or not manifest.get("pid") or manifest.get("host") != socket.gethostname():
        return status
    return "running" if _alive(int(manifest["pid"]), manifest.get("pid_started")) else "killed"


def mark_killed(manifest: dict, config: dict) -> dict:
    """The manifest of a run whose process died: the run and its unfinished workload become
    ``killed``, and the config's workloads it never reached ``not_run``."""
    out = dict(manifest, status="killed", error=f"the process (pid {manifest.get('pid')}) was killed")
    out["workloads"] = [dict(w, status="killed", error=w.get("error") or "the process was killed")
                        if w.get("status") == "running" else w for w in manifest.get("workloads", [])]
    seen = {w["name"] for w in out["workloads"]}
    for entry in config.get("workloads") or []:
        label = entry.get("name") or entry.get("workload") if isinstance(entry, dict) else None
        if isinstance(label, str) and label not in seen:
            out["workloads"].append({"name": label, "workload": str(entry.get("workload")),
                                     "params": entry.get("params") or {}, "samples": 0, "samples_done": 0,
                                     "status": "not_run", "error": "the run was killed before it started"})
    return out
