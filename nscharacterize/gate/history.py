"""Run history in SQLite: one row per run, per-category summary statistics, series for trends.

Each added run keeps its identity (the manifest's ``run_id``, else its resolved run-directory
path), commit, date (commit date when git knows it, else the run's creation time), fingerprint
and, per (workload, component, category) plus totals, the mean, median, spread and sample count.
Adding is one ``BEGIN IMMEDIATE`` transaction and the identity is UNIQUE, so concurrent
``history add`` calls of one run store it once, and two distinct runs created in the same second
are both kept. Step detection is ``stats.detect_steps``; ``trend`` renders the series.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from nscharacterize.taxonomy.categories import CATEGORIES

from . import runs
from .errors import CompareError
from .git import commit_date
from .samples import ALL, TOTAL, per_sample_values, workload_categories
from .settings import DEFAULT_DB
from .stats import detect_steps


VERSION = 2           # PRAGMA user_version of the current schema
BUSY_TIMEOUT_S = 60   # how long a writer waits for another one before giving up

_RUNS = """
CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_key TEXT NOT NULL UNIQUE,
    run_dir TEXT NOT NULL,
    commit_hash TEXT,
    date TEXT NOT NULL,
    created TEXT,
    config_name TEXT,
    config_hash TEXT,
    fingerprint TEXT NOT NULL,
    added TEXT NOT NULL
)"""
_TIMES = """
CREATE TABLE IF NOT EXISTS times (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    workload TEXT NOT NULL,
    component TEXT NOT NULL,
    category TEXT NOT NULL,
    mean_s REAL NOT NULL,
    median_s REAL NOT NULL,
    std_s REAL NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (run_id, workload, component, category)
)"""


def _unusable(db: Path, exc: Exception) -> CompareError:
    if "locked" in str(exc):
        return CompareError(db, "database", f"busy: another process held it for over {BUSY_TIMEOUT_S} s",
                            "retry when the other nscharacterize command has finished")
    return CompareError(db, "database", f"not a usable SQLite history ({exc})", "pass another --db or move the file away")


def connect(db: str | Path) -> sqlite3.Connection:
    """An autocommit connection (transactions are explicit) to a history at the current schema."""
    db = Path(db)
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CompareError(db, "database", f"cannot create its folder ({exc.strerror})", "pass another --db") from None
    try:
        con = sqlite3.connect(db, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise _unusable(db, exc) from None
    try:
        if con.execute("PRAGMA user_version").fetchone()[0] != VERSION:
            _upgrade(con)
    except sqlite3.Error as exc:
        con.close()
        raise _unusable(db, exc) from None
    return con


def _upgrade(con: sqlite3.Connection) -> None:
    """Creates the tables, or rebuilds a version-1 ``runs`` table (unique on created, config hash and
    commit, which merged distinct runs of one second) with the run identity as its key."""
    con.execute("BEGIN IMMEDIATE")
    try:
        if con.execute("PRAGMA user_version").fetchone()[0] == VERSION:   # another process did it meanwhile
            con.execute("ROLLBACK")
            return
        columns = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
        if columns and "run_key" not in columns:
            con.execute(_RUNS.format(name="runs_v2"))
            # version 1 stored the resolved run directory: the identity of a run without run_id
            con.execute("INSERT OR IGNORE INTO runs_v2 (id, run_key, run_dir, commit_hash, date, created, config_name, "
                        "config_hash, fingerprint, added) SELECT id, run_dir, run_dir, commit_hash, date, created, "
                        "config_name, config_hash, fingerprint, added FROM runs ORDER BY id")
            con.execute("DROP TABLE runs")
            con.execute("ALTER TABLE runs_v2 RENAME TO runs")
        con.execute(_RUNS.format(name="runs"))
        con.execute(_TIMES)
        con.execute("DELETE FROM times WHERE run_id NOT IN (SELECT id FROM runs)")
        con.execute(f"PRAGMA user_version = {VERSION}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def add(run: str | Path, db: str | Path = DEFAULT_DB) -> tuple[int, bool]:
    """Adds a run to the history; returns (its id in the history, whether it was new)."""
    run = Path(run)
    rd, man = runs.open_run(run)
    runs.check_finished(rd, man)
    samples = rd.samples()
    cfg = rd.config
    key = runs.identity(rd, man)
    ok, _ = runs.ok_workloads(man, samples)
    values, _, _ = per_sample_values(samples, ["category"], ok)
    values.update(workload_categories(values))
    commit = man.get("git_commit")
    created = man.get("created") or datetime.now(timezone.utc).isoformat()
    date = commit_date(run, commit) or created
    times = [(wl, comp, cat, float(v.mean()), float(np.median(v)), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v))
             for (wl, comp, axis, cat), v in values.items() if len(v)]
    con = connect(db)
    try:
        con.execute("BEGIN IMMEDIATE")   # the check and the insert below are one writer's, atomically
        try:
            row = con.execute("SELECT id FROM runs WHERE run_key = ?", (key,)).fetchone()
            if row:
                con.execute("ROLLBACK")
                return int(row[0]), False
            cur = con.execute(
                "INSERT INTO runs (run_key, run_dir, commit_hash, date, created, config_name, config_hash, "
                "fingerprint, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, str(run.resolve()), commit, date, created, cfg.get("name") if isinstance(cfg, dict) else None,
                 man.get("config_hash"), json.dumps(man["fingerprint"], sort_keys=True, default=str),
                 datetime.now(timezone.utc).isoformat()))
            run_id = int(cur.lastrowid or 0)   # always set by an INSERT
            con.executemany("INSERT INTO times VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(run_id, *t) for t in times])
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise _unusable(Path(db), exc) from None
    finally:
        con.close()
    return run_id, True


@dataclass
class Series:
    workload: str
    component: str
    category: str
    run_ids: list[int]
    labels: list[str]
    dates: list[str]
    mean: np.ndarray
    std: np.ndarray
    n: np.ndarray
    steps: list[int]          # indices of the first run of each detected shift
    # index -> what changed in how that run was measured and classified since the run before it in
    # the series (this tool's version, the rules: ``_change``); a step there may be theirs
    changes: dict[int, str] = field(default_factory=dict)


def load_series(db: str | Path, workload: str | None = None, component: str | None = ALL, last: int | None = None,
                config_hash: str | None = None) -> list[Series]:
    """Every (workload, component, category) series of the history, oldest run first."""
    if last is not None and last < 1:
        raise ValueError(f"last must be at least 1, got {last}")
    if not Path(db).is_file():
        raise CompareError(db, "database", "no such history", "add runs with `nscharacterize history add RUN --db PATH`")
    con = connect(db)
    try:
        runs_ = con.execute("SELECT id, commit_hash, date, config_hash, fingerprint FROM runs ORDER BY date, id").fetchall()
        rows = con.execute("SELECT run_id, workload, component, category, mean_s, std_s, n FROM times").fetchall()
    except sqlite3.Error as exc:
        raise _unusable(Path(db), exc) from None
    finally:
        con.close()
    if config_hash:
        runs_ = [r for r in runs_ if r[3] == config_hash]
    if last:
        runs_ = runs_[-last:]
    order = {r[0]: i for i, r in enumerate(runs_)}
    measured_by = [_measured_by(r[4]) for r in runs_]   # each run's fingerprint read once, not per series
    series: dict[tuple, dict] = {}
    for run_id, wl, comp, cat, mean, std, n in rows:
        if run_id not in order or (workload and wl != workload) or (component and comp != component):
            continue
        series.setdefault((wl, comp, cat), {})[order[run_id]] = (mean, std, n)

    def sort_key(k):
        return (k[0], k[1], CATEGORIES.index(k[2]) if k[2] in CATEGORIES else len(CATEGORIES) + (k[2] == TOTAL))

    out = []
    for key in sorted(series, key=sort_key):
        pts = series[key]
        idx = sorted(pts)
        mean = np.array([pts[i][0] for i in idx])
        if key[2] != TOTAL and not np.any(mean):
            continue   # a category this workload never spends time in
        std = np.array([pts[i][1] for i in idx])
        n = np.array([pts[i][2] for i in idx])
        changes = {j: c for j in range(1, len(idx)) if (c := _change(measured_by[idx[j - 1]], measured_by[idx[j]]))}
        out.append(Series(key[0], key[1], key[2], [runs_[i][0] for i in idx],
                          [(runs_[i][1] or f"run{runs_[i][0]}")[:8] for i in idx], [runs_[i][2] for i in idx],
                          mean, std, n, detect_steps(mean, std / np.sqrt(np.maximum(n, 1))), changes))
    return out


def _measured_by(fingerprint: str | None) -> tuple[str | None, str | None]:
    """(this tool's version, the rules' digest) of a run's stored fingerprint, None where it has none."""
    try:
        fp = json.loads(fingerprint or "{}")
    except ValueError:
        fp = {}
    fp = fp if isinstance(fp, dict) else {}
    return fp.get("nscharacterize") or None, fp.get("rules") or None


def _change(a: tuple[str | None, str | None], b: tuple[str | None, str | None]) -> str:
    """What changed between two runs' ``_measured_by`` in how they were measured and classified:
    this tool's version, the rules that classified them ('' when neither, or where a run does not
    record it)."""
    said = []
    if a[0] and b[0] and a[0] != b[0]:
        said.append(f"nscharacterize {a[0]} -> {b[0]}")
    if a[1] and b[1] and a[1] != b[1]:
        said.append("rules changed")
    return ", ".join(said)
