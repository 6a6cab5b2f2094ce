"""Run history in SQLite, per-category trends, and step-change detection over the history.

Each added run keeps its commit, date (commit date when git knows it, else the run's creation
time), fingerprint and, per (workload, component, category) plus totals, the mean, median, spread
and sample count. ``detect_steps`` marks the first run of each level shift with binary
segmentation of a piecewise-constant fit; a split must cut the squared error by more than a
penalty scaled to the noise (``beta * sigma^2 * log n``, sigma from the run-to-run differences and
the runs' own per-sample spread) and move the level by ``min_rel`` or more.
"""
from __future__ import annotations

import json
import math
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .compare import ALL, TOTAL, CompareError, load_run, ok_workloads, per_sample_values

DEFAULT_DB = Path(".nscharacterize") / "history.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_dir TEXT NOT NULL,
    commit_hash TEXT,
    date TEXT NOT NULL,
    created TEXT,
    config_name TEXT,
    config_hash TEXT,
    fingerprint TEXT NOT NULL,
    added TEXT NOT NULL,
    UNIQUE (created, config_hash, commit_hash)
);
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
);
"""


def connect(db: str | Path) -> sqlite3.Connection:
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = sqlite3.connect(db)
        con.executescript(_SCHEMA)
    except sqlite3.DatabaseError as exc:
        raise CompareError(db, "database", f"not a usable SQLite history ({exc})",
                           "pass another --db or move the file away") from None
    return con


def _commit_date(run_dir: Path, commit: str | None) -> str | None:
    if not commit:
        return None
    commit = commit.removesuffix("-dirty")
    for where in (run_dir, Path.cwd()):
        try:
            proc = subprocess.run(["git", "-C", str(where if where.is_dir() else where.parent), "show", "-s",
                                   "--format=%cI", commit], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip()
    return None


def add(run: str | Path, db: str | Path = DEFAULT_DB) -> tuple[int, bool]:
    """Adds a run to the history; returns (run id, whether it was new)."""
    run = Path(run)
    rd = load_run(run)
    man = rd.manifest
    samples = rd.samples()
    ok, _ = ok_workloads(man, samples)
    values, _, _ = per_sample_values(samples, ["category"], ok)
    values.update(_workload_categories(values))
    commit = man.get("git_commit")
    created = man.get("created") or datetime.now(timezone.utc).isoformat()
    date = _commit_date(run, commit) or created
    cfg = rd.config if isinstance(rd.config, dict) else {}
    fp = dict(man.get("fingerprint") or {})
    con = connect(db)
    with con:
        cur = con.execute("SELECT id FROM runs WHERE created IS ? AND config_hash IS ? AND commit_hash IS ?",
                          (created, man.get("config_hash"), commit))
        row = cur.fetchone()
        if row:
            return int(row[0]), False
        cur = con.execute(
            "INSERT INTO runs (run_dir, commit_hash, date, created, config_name, config_hash, fingerprint, added) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (str(run.resolve()), commit, date, created, cfg.get("name"), man.get("config_hash"),
             json.dumps(fp, sort_keys=True), datetime.now(timezone.utc).isoformat()))
        run_id = int(cur.lastrowid)
        con.executemany(
            "INSERT INTO times VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(run_id, wl, comp, cat, float(v.mean()), float(np.median(v)), float(v.std(ddof=1)) if len(v) > 1 else 0.0,
              len(v)) for (wl, comp, axis, cat), v in values.items() if len(v)])
    con.close()
    return run_id, True


def _workload_categories(values: dict) -> dict:
    """Per-workload category series (summed over components per sample) under component ``(all)``."""
    acc: dict[tuple, np.ndarray] = {}
    for (wl, comp, axis, cat), v in values.items():
        if comp == ALL or axis != "category" or cat == TOTAL:
            continue
        key = (wl, ALL, "category", cat)
        if key not in acc:
            acc[key] = v.astype(float).copy()
        elif len(acc[key]) == len(v):
            acc[key] = acc[key] + v
    return acc


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


def load_series(db: str | Path, workload: str | None = None, component: str = ALL, last: int | None = None,
                config_hash: str | None = None) -> list[Series]:
    """Every (workload, component, category) series of the history, oldest run first."""
    if not Path(db).is_file():
        raise CompareError(db, "database", "no such history", "add runs with `nscharacterize history add RUN --db PATH`")
    con = connect(db)
    runs = con.execute("SELECT id, commit_hash, date, config_hash FROM runs ORDER BY date, id").fetchall()
    if config_hash:
        runs = [r for r in runs if r[3] == config_hash]
    if last:
        runs = runs[-last:]
    order = {r[0]: i for i, r in enumerate(runs)}
    rows = con.execute("SELECT run_id, workload, component, category, mean_s, std_s, n FROM times").fetchall()
    con.close()
    series: dict[tuple, dict] = {}
    for run_id, wl, comp, cat, mean, std, n in rows:
        if run_id not in order or (workload and wl != workload) or (component and comp != component):
            continue
        series.setdefault((wl, comp, cat), {})[order[run_id]] = (mean, std, n)
    out = []
    from ..taxonomy.categories import CATEGORIES

    def sort_key(k):
        return (k[0], k[1], CATEGORIES.index(k[2]) if k[2] in CATEGORIES else len(CATEGORIES) + (k[2] == TOTAL))

    for key in sorted(series, key=sort_key):
        pts = series[key]
        idx = sorted(pts)
        mean = np.array([pts[i][0] for i in idx])
        if key[2] != TOTAL and not np.any(mean):
            continue   # a category this workload never spends time in
        std = np.array([pts[i][1] for i in idx])
        n = np.array([pts[i][2] for i in idx])
        out.append(Series(key[0], key[1], key[2], [runs[i][0] for i in idx],
                          [(runs[i][1] or f"run{runs[i][0]}")[:8] for i in idx], [runs[i][2] for i in idx],
                          mean, std, n, detect_steps(mean, std / np.sqrt(np.maximum(n, 1)))))
    return out


def detect_steps(y: np.ndarray, sem: np.ndarray | None = None, beta: float = 3.0, min_rel: float = 0.10,
                 min_size: int = 1) -> list[int]:
    """First indices of level shifts in ``y`` (binary segmentation, noise-scaled penalty).

    sigma is the larger of: the robust run-to-run noise (MAD of first differences / (0.6745 * sqrt 2)),
    the median standard error of the runs themselves (``sem``), and 1 % of the median level. A split
    is kept when it cuts the squared error by more than ``beta * sigma^2 * log(n)`` (at least 2) and
    the two levels differ by ``min_rel`` of the earlier one.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 3:
        return []
    d = np.diff(y)
    sigma = float(np.median(np.abs(d - np.median(d)))) / (0.6745 * math.sqrt(2))
    if sem is not None and len(sem):
        sigma = max(sigma, float(np.median(sem)))
    sigma = max(sigma, 0.01 * abs(float(np.median(y))), 1e-12)
    penalty = beta * sigma ** 2 * max(math.log(n), 2.0)
    steps: list[int] = []

    def cost(a: int, b: int) -> float:
        seg = y[a:b]
        return float(((seg - seg.mean()) ** 2).sum())

    def split(a: int, b: int) -> None:
        if b - a < 2 * min_size:
            return
        total = cost(a, b)
        best, best_k = 0.0, None
        for k in range(a + min_size, b - min_size + 1):
            gain = total - cost(a, k) - cost(k, b)
            if gain > best:
                best, best_k = gain, k
        if best_k is None or best <= penalty:
            return
        left, right = y[a:best_k].mean(), y[best_k:b].mean()
        if abs(right - left) < min_rel * max(abs(left), 1e-15):
            return
        steps.append(best_k)
        split(a, best_k)
        split(best_k, b)

    split(0, n)
    return sorted(steps)


_SPARK = "▁▂▃▄▅▆▇█"


def sparkline(y: np.ndarray) -> str:
    if not len(y):
        return ""
    lo, hi = float(np.min(y)), float(np.max(y))
    if hi <= lo:
        return _SPARK[0] * len(y)
    return "".join(_SPARK[min(7, int((v - lo) / (hi - lo) * 7.999))] for v in y)


def render_trend(series: list[Series], fmt_time) -> str:
    """A text table: per series first and last value, change, sparkline and detected steps."""
    if not series:
        return "history is empty\n"
    lines = []
    runs = max(len(s.mean) for s in series)
    lines.append(f"{runs} runs, oldest first ({series[0].labels[0]} .. {series[0].labels[-1]})")
    head = ["workload", "component", "category", "first", "last", "change", "trend", "steps (first run of a shift)"]
    body = []
    for s in series:
        change = (s.mean[-1] / s.mean[0] - 1) * 100 if s.mean[0] > 0 else float("nan")
        steps = ", ".join(f"{s.labels[i]} ({s.dates[i][:10]}) {_step_change(s, i)}" for i in s.steps)
        body.append([s.workload, "total" if s.component == ALL else s.component, s.category, fmt_time(s.mean[0]),
                     fmt_time(s.mean[-1]), "-" if math.isnan(change) else f"{change:+.1f}%", sparkline(s.mean),
                     steps or "-"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for row in body:
        lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    return "\n".join(lines) + "\n"


def _step_change(s: Series, i: int) -> str:
    prev = [j for j in s.steps if j < i]
    a = prev[-1] if prev else 0
    nxt = [j for j in s.steps if j > i]
    b = nxt[0] if nxt else len(s.mean)
    left, right = s.mean[a:i].mean(), s.mean[i:b].mean()
    return f"{(right / left - 1) * 100:+.1f}%" if left > 0 else ""


def plot_trend(series: list[Series], path: str | Path) -> Path:
    """One panel per workload: each category's mean time per run (ms), the total dashed, steps marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..taxonomy.categories import LABELS

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workloads = list(dict.fromkeys(s.workload for s in series))
    fig, axes = plt.subplots(len(workloads), 1, figsize=(9, 3.2 * max(1, len(workloads))), squeeze=False)
    for ax, wl in zip(axes[:, 0], workloads):
        for s in (s for s in series if s.workload == wl):
            x = np.arange(len(s.mean))
            is_total = s.category == TOTAL
            if not is_total and float(np.max(s.mean)) <= 0:
                continue
            ax.plot(x, s.mean * 1e3, ls="--" if is_total else "-", lw=2 if is_total else 1.2, marker="o", ms=3,
                    color="black" if is_total else None, label="Total" if is_total else LABELS.get(s.category, s.category))
            for i in s.steps:
                ax.axvline(i - 0.5, color="red" if is_total else "grey", ls=":", lw=1)
                ax.annotate("step", (i, s.mean[i] * 1e3), textcoords="offset points", xytext=(3, 5), fontsize=7,
                            color="red" if is_total else "grey")
            ax.set_xticks(x)
            ax.set_xticklabels(s.labels, rotation=45, ha="right", fontsize=7)
        ax.set_title(wl)
        ax.set_ylabel("ms per sample")
        ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
