"""The run directory: the one on-disk format that the pipeline writes and every report reads.

Every file name of a run directory is defined here (a table's with its schema, in
``schemas.py``, which the writers build their frames from and ``RunDir`` checks every table
against when it is loaded). Every file is written atomically
(``nscharacterize.core.fileio.atomic_write``), so a crash or a failing workload never leaves a
half-written table behind, and a reader sees either the old file or the new one. A reader gets
either a frame that satisfies the schema or one ``RunDirError`` line naming the file, the key and
the fix: no reader downstream re-checks a field.

A run that is still being written has ``status: running`` and the writer's ``pid``, ``host`` and
process start time in its manifest; ``effective_status`` tells a live run from one whose process
was killed outright (SIGKILL, the OOM killer), which no handler can record.
"""
from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

import pandas as pd
import pyarrow as pa

from nscharacterize.core.errors import UserError
from nscharacterize.core.fileio import atomic_write, dump_yaml, parse_yaml

from . import samplelog, schemas
from .errors import RunDirError
from .manifest import Manifest, config_hash, parse_manifest

CONFIG = "config.yaml"
MANIFEST = "manifest.json"
EVENTS = schemas.EVENTS.file
TIMINGS = schemas.TIMINGS.file
SAMPLES = schemas.SAMPLES.file
BREAKDOWN = schemas.BREAKDOWN.file
CHECKS = schemas.CHECKS.file
TABLE = "table.md"
HEATMAP = "heatmap.png"
BARS = "breakdown.png"
PYTHON_PLOT = "python_breakdown.png"
SYSTEM = schemas.SYSTEM.file
SYSTEM_PLOT = "system.png"
REPORT_HTML = "report.html"
ROOFLINE = schemas.ROOFLINE.file
ROOFLINE_PLOT = "roofline.png"
# The figures `--png` draws (reports/run_report.py), each also drawn by report.html itself.
PNG_FIGURES = (HEATMAP, BARS, PYTHON_PLOT, SYSTEM_PLOT, ROOFLINE_PLOT)
ROOFLINE_MEASURED = "roofline_measured.csv"   # attribution/measured.COLUMNS, written by ncu-import
MEMORY = schemas.MEMORY.file
SPARSITY = schemas.SPARSITY.file
COUNTERS = schemas.COUNTERS.file
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

MAX_NAME = 100  # characters of a run or workload name: it becomes a folder or file name

class _NoLog(Exception):
    """compact_events_log: the log has no readable schema; nothing is written."""


def csv_rows(path: Path, chunk: int = 1 << 20) -> int | None:
    """Data rows of a CSV file, read in chunks, never whole: its lines less the header; None where a
    quoted field could hold a line break (a double quote anywhere), which only a parser can count."""
    lines, quoted = 0, False
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            lines += block.count(b"\n")
            quoted = quoted or b'"' in block
    return None if quoted else max(lines - 1, 0)


def torn_last_line(path: Path) -> bool:
    """Whether a file's last line is incomplete (a writer killed mid-line); an empty file is not
    torn. Reads the last byte only."""
    with open(path, "rb") as fh:
        if fh.seek(0, os.SEEK_END) == 0:
            return False
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) != b"\n"


class SavedTables(NamedTuple):
    """breakdown.csv, timings.csv and checks.csv as read: what table.md and most sections of
    report.html start from, read once per report (``RunDir.saved_tables``)."""
    breakdown: pd.DataFrame
    timings: pd.DataFrame
    checks: pd.DataFrame


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
        return self._atomic(name, lambda tmp: fig.savefig(tmp, format="png", dpi=130))

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
    def write_manifest(self, manifest: Manifest) -> Path:
        """manifest.json: the only way a manifest is written, from the typed model every writer
        builds (``rundir.manifest``), so no writer writes what a reader refuses."""
        if not isinstance(manifest, Manifest):
            raise TypeError(f"write_manifest takes a Manifest, not a {type(manifest).__name__}")
        return self.write_json(MANIFEST, manifest.dump())

    @property
    def manifest(self) -> dict:
        """The manifest, checked against ``Manifest``; a dict, as written."""
        path = self._need(MANIFEST)
        data = read_json(path)
        parse_manifest(path, data)
        return data

    def read_manifest(self) -> Manifest:
        """The manifest, checked and typed."""
        path = self._need(MANIFEST)
        return parse_manifest(path, read_json(path))

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
        return schemas.EVENTS.check(path, frame)

    # Rows per batch of ``event_batches`` from events.parquet: small enough that a batch and what a
    # reader makes of it stay a few MiB, large enough that pandas' cost per batch is noise.
    READ_BATCH_ROWS = 1 << 15

    def event_batches(self) -> Iterator[pd.DataFrame]:
        """The classified events as ``events()`` gives them, a row group (or a logged batch) at a
        time, for readers that reduce them as they go: memory holds one batch, not every sample."""
        log = self.path / samplelog.EVENTS_LOG
        if log.is_file():
            _schema, batches = samplelog.batches(log)
            path = log
        else:
            import pyarrow.parquet as pq

            path = self._need(EVENTS)
            try:
                batches = pq.ParquetFile(path).iter_batches(batch_size=self.READ_BATCH_ROWS)
            except Exception as exc:  # pyarrow raises several types for a damaged file
                raise RunDirError(path, "", f"unreadable parquet ({type(exc).__name__})", "re-run the profile") from None
        seen = False
        try:
            for batch in batches:
                seen = True
                yield schemas.EVENTS.check(path, pa.Table.from_batches([batch]).to_pandas())
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise RunDirError(path, "", f"unreadable events ({type(exc).__name__})", "re-run the profile") from None
        if not seen:   # no rows: one empty frame with the columns
            yield self.events()

    def timings(self) -> pd.DataFrame:
        """Per-sample timings: of a run in progress (or killed) from its append-only log."""
        path, frame = self._logged(samplelog.TIMINGS_LOG)
        if frame is not None:
            return schemas.TIMINGS.check(path, frame)
        return self._csv(schemas.TIMINGS)

    def _logged(self, name: str) -> tuple[Path, pd.DataFrame | None]:
        path = self.path / name
        if not path.is_file():
            return path, None
        try:
            return path, samplelog.read_frame(path)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise RunDirError(path, "", f"unreadable sample log ({type(exc).__name__})", "re-run the profile") from None

    def samples(self) -> pd.DataFrame:
        return self._csv(schemas.SAMPLES)

    def samples_head(self, rows: int) -> tuple[pd.DataFrame, int]:
        """The first ``rows`` rows of samples.csv and how many it has: the page shows a part of it,
        and the whole file (a row per sample, axis and category: 470,000 rows at 10,000 samples)
        read as a frame was the run's end's largest allocation after its tables (issue 23)."""
        frame = self._csv(schemas.SAMPLES, nrows=rows)
        total = csv_rows(self.path / schemas.SAMPLES.file)
        return frame, (total if total is not None else len(self.samples()))

    def breakdown(self) -> pd.DataFrame:
        return self._csv(schemas.BREAKDOWN)

    def checks(self) -> pd.DataFrame:
        return self._csv(schemas.CHECKS)

    def saved_tables(self) -> SavedTables:
        return SavedTables(self.breakdown(), self.timings(), self.checks())

    def system(self) -> pd.DataFrame:
        return self._csv(schemas.SYSTEM)

    def roofline(self) -> pd.DataFrame:
        return self._csv(schemas.ROOFLINE)

    def metrics(self, table: schemas.Table) -> pd.DataFrame | None:
        """memory.csv, sparsity.csv or counters.csv (``schemas.MEMORY`` ...); None when the run
        did not measure it (config ``metrics``)."""
        return self._csv(table) if self.has(table.file) else None

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def _csv(self, table: schemas.Table, nrows: int | None = None) -> pd.DataFrame:
        """The table's file (its first ``nrows`` rows), typed and checked; a torn or corrupt file is
        one ``RunDirError``."""
        path = self._need(table.file)
        if torn_last_line(path):
            raise RunDirError(path, "", "truncated (the last line is incomplete)", "re-run or re-copy the run")
        try:
            frame = pd.read_csv(path, nrows=nrows, **table.csv_read_options())
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
            raise RunDirError(path, "", f"corrupt CSV ({type(exc).__name__})", "re-run or re-copy the run") from None
        return table.check(path, frame)

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
