"""Verdicts: one row per (workload, component, axis, category), and the Comparison that holds them.

A row is a **regression** only when all three hold, as in asv's ``continuous``:

1. the relative change exceeds ``rel_threshold`` (ratio of the per-sample medians, or means),
2. the absolute change exceeds ``abs_floor_s`` (seconds per sample; sub-floor categories are noise),
3. the change is statistically significant over the per-sample values: a one-sided Mann-Whitney U
   test (or a bootstrap of the difference of means) at ``alpha``.

A change that passes 1 and 2 but not 3 is **within noise**. Shifts in category share (points of the
component total) are flagged separately; they fail the gate only with ``fail_on_share_shift``.
With A/B rounds, ``round_check`` also asks a change to beat the drift between a side's own rounds.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from nscharacterize.taxonomy.categories import CATEGORIES

from .samples import ALL, SUITE, TOTAL, Key
from .settings import CompareSettings
from .stats import bootstrap_p, mann_whitney_p, noise, spread

VERDICTS = ("regressed", "improved", "within noise", "unchanged", "missing", "added")


@dataclass
class Row:
    workload: str
    component: str
    axis: str
    category: str
    kind: str
    base_s: float
    new_s: float
    ratio: float
    delta_s: float
    noise_s: float          # ~95 % band of the difference of means, from the per-sample spread
    base_spread: float      # relative per-sample spread (IQR / median) of base and new
    new_spread: float
    p_value: float
    n_base: int
    n_new: int
    round_drift: float | None = None  # largest ratio - 1 between rounds of the same side (A/B runs)
    base_share: float | None = None   # points of the component total (0-100); None on total rows
    new_share: float | None = None
    share_delta: float | None = None
    share_p: float | None = None
    share_flag: bool = False
    verdict: str = "unchanged"
    note: str = ""


@dataclass
class Comparison:
    base: str
    new: str
    settings: CompareSettings
    rows: list[Row]
    base_commit: str | None = None
    new_commit: str | None = None
    env_diffs: dict[str, tuple[Any, Any]] = field(default_factory=dict)   # refused keys, allowed anyway
    env_warnings: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    config_diffs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    min_p: float = 0.0       # smallest one-sided p the smallest workload's sample counts allow

    def count(self, verdict: str) -> int:
        return sum(r.verdict == verdict for r in self.rows)

    @property
    def share_shifts(self) -> list[Row]:
        return [r for r in self.rows if r.share_flag]

    @property
    def exit_code(self) -> int:
        if self.count("regressed"):
            return 1
        if self.settings.fail_on_missing and self.count("missing"):
            return 1
        if self.settings.fail_on_share_shift and self.share_shifts:
            return 1
        return 0

    def summary(self) -> dict:
        out = {v: self.count(v) for v in VERDICTS}
        out["share_shifts"] = len(self.share_shifts)
        out["exit_code"] = self.exit_code
        return out

    def to_dict(self) -> dict:
        return {"schema": 1, "base": self.base, "new": self.new, "base_commit": self.base_commit,
                "new_commit": self.new_commit, "settings": self.settings.model_dump(),
                "summary": self.summary(),
                "env_diffs": {k: list(v) for k, v in self.env_diffs.items()},
                "env_warnings": {k: list(v) for k, v in self.env_warnings.items()},
                "config_diffs": self.config_diffs, "notes": self.notes, "min_p": self.min_p,
                "rows": [_jsonable(asdict(r)) for r in self.rows]}


def judge(key: Key, b: np.ndarray, n: np.ndarray, bsh, nsh, kind: str, s: CompareSettings) -> Row:
    """The row of one series: statistic, change, noise, p-value, share shift and verdict."""
    wl, comp, axis, cat = key
    stat = np.median if s.statistic == "median" else np.mean
    bm = float(stat(b)) if len(b) else 0.0
    nm = float(stat(n)) if len(n) else 0.0
    delta = nm - bm
    if bm > 0:
        ratio = nm / bm
    else:
        ratio = float("inf") if nm > 0 else 1.0
    greater = delta >= 0
    if s.test == "bootstrap":
        p = bootstrap_p(b, n, greater, s.bootstrap_resamples, statistic=stat)
    else:
        p = mann_whitney_p(b, n, greater)
    row = Row(wl, comp, axis, cat, kind, bm, nm, ratio, delta, noise(b, n, s.statistic), spread(b), spread(n),
              p, len(b), len(n))
    big = abs(ratio - 1.0) >= s.rel_threshold and abs(delta) >= s.abs_floor_s
    if big and p < s.alpha:
        row.verdict = "regressed" if delta > 0 else "improved"
    elif big:
        row.verdict = "within noise"
    if not len(b):
        row.note = "category absent in the base run"
    elif not len(n):
        row.note = "category absent in the new run"
    if bsh is not None and nsh is not None and cat != TOTAL:
        row.base_share, row.new_share = float(bsh.mean()), float(nsh.mean())
        row.share_delta = row.new_share - row.base_share
        row.share_p = mann_whitney_p(bsh, nsh, row.share_delta >= 0)
        row.share_flag = abs(row.share_delta) >= s.share_points and row.share_p < s.alpha and s.share_points > 0
    return row


def round_check(row: Row, base_rounds: list, new_rounds: list, s: CompareSettings) -> None:
    """Downgrades a verdict to 'within noise' unless it beats the sides' own round-to-round drift.

    Load on a shared machine shifts whole rounds; the rounds of one side are repeats of the same
    code, so their disagreement is the drift a real change must exceed. Every new round must also
    lie beyond every base round (the ABBA order puts them on both sides of any linear drift).
    """
    stat = np.median if s.statistic == "median" else np.mean
    b = [float(stat(x)) for x in base_rounds if x is not None and len(x)]
    n = [float(stat(x)) for x in new_rounds if x is not None and len(x)]
    if len(b) < 2 or len(n) < 2:
        return
    drift = 0.0
    for side in (b, n):
        lo, hi = min(side), max(side)
        drift = max(drift, hi / lo - 1.0 if lo > 0 else (0.0 if hi == 0 else float("inf")))
    row.round_drift = drift
    row.noise_s = max(row.noise_s, drift * row.base_s if math.isfinite(drift) else float("inf"))
    up = row.delta_s > 0
    agree = min(n) > max(b) if up else max(n) < min(b)
    beyond = (row.ratio - 1.0 > drift) if up else (row.ratio > 0 and 1.0 / row.ratio - 1.0 > drift)
    if not (agree and beyond):
        row.verdict = "within noise"
        row.note = ("rounds disagree on the direction" if not agree else
                    f"within the {drift:.0%} drift between rounds of one side")


def missing_row(wl: str, values: dict, verdict: str, note: str) -> Row:
    """The workload-total row of a workload present on one side only ('missing' or 'added')."""
    tot = values.get((wl, ALL, "category", TOTAL), np.zeros(0))
    m = float(tot.mean()) if len(tot) else float("nan")
    base_s, new_s = (m, float("nan")) if verdict == "missing" else (float("nan"), m)
    return Row(wl, ALL, "category", TOTAL, "", base_s, new_s, float("nan"), float("nan"), float("nan"),
               float("nan"), float("nan"), float("nan"), len(tot) if verdict == "missing" else 0,
               len(tot) if verdict == "added" else 0, verdict=verdict, note=note)


def row_order(r: Row) -> tuple:
    """Workloads by name (suite last), components (totals last), categories in the study's order."""
    cat_rank = CATEGORIES.index(r.category) if r.category in CATEGORIES else (
        len(CATEGORIES) + 1 if r.category == TOTAL else len(CATEGORIES))
    return (r.workload == SUITE, r.workload, r.component == ALL, r.component, r.axis != "category", r.axis,
            cat_rank, r.category)


def _jsonable(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None if math.isnan(v) else ("inf" if v > 0 else "-inf")
        else:
            out[k] = v
    return out
