"""Comparison of two saved runs: per (workload, component, category) change, noise and verdict.

The gate works from saved run directories only (``samples.csv`` per-sample values, ``manifest.json``
fingerprints). A row is a **regression** only when all three hold, as in asv's ``continuous``:

1. the relative change exceeds ``rel_threshold`` (ratio of the per-sample medians, or means),
2. the absolute change exceeds ``abs_floor_s`` (seconds per sample; sub-floor categories are noise),
3. the change is statistically significant over the per-sample values: a one-sided Mann-Whitney U
   test (or a bootstrap of the difference of means) at ``alpha``.

A change that passes 1 and 2 but not 3 is **within noise**. Shifts in category share (points of the
component total) are flagged separately; they fail the gate only with ``fail_on_share_shift``.
Runs whose environment fingerprints differ are refused unless ``allow_env_change``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from nscharacterize.errors import UserError

from ..taxonomy.categories import CATEGORIES

TOTAL = "total"          # category name of a total row
ALL = "(all)"            # component name of a workload-total row
SUITE = "(suite)"        # workload name of the suite-total row

VERDICTS = ("regressed", "improved", "within noise", "unchanged", "missing", "added")


class CompareSettings(BaseModel):
    """The ``compare:`` section of a config; every field is also a ``compare`` option.

    Defaults were measured on a shared, loaded 2-core machine (benchmarks/false_alarm.py), where
    whole workloads ran up to 3-4x slower from one run to the next: asv's alpha = 0.002, a wide
    relative threshold, a floor that ignores microsecond-sized categories, and (for A/B rounds)
    the round check are what kept interleaved comparisons of unchanged code free of false alarms.
    """

    model_config = ConfigDict(extra="forbid")

    rel_threshold: float = Field(0.25, ge=0, description="relative change a regression must exceed (0.25 = +25 %)")
    abs_floor_s: float = Field(5e-5, ge=0, description="absolute change per sample a regression must exceed (s)")
    alpha: float = Field(0.002, gt=0, lt=1, description="significance level of the per-sample test (one-sided; asv uses 0.002)")
    statistic: Literal["median", "mean"] = Field(
        "median", description="per-sample statistic compared (median resists load spikes; mean adds up to totals)")
    test: Literal["mannwhitney", "bootstrap"] = Field("mannwhitney", description="significance test")
    bootstrap_resamples: int = Field(2000, ge=100, description="resamples of the bootstrap test")
    share_points: float = Field(5.0, ge=0, description="category-share shift to flag, in points of the component total")
    fail_on_share_shift: bool = Field(False, description="exit 1 on a significant share shift, not just flag it")
    round_check: bool = Field(True, description="with A/B rounds: a change must also exceed the disagreement "
                              "between rounds of the same side, and every round must agree on its direction")
    fail_on_missing: bool = Field(True, description="exit 1 when a workload of the base is missing or failed in the new run")
    axes: list[str] = Field(default_factory=lambda: ["category"], description="samples.csv axes to compare")
    fingerprint_keys: list[str] = Field(
        default_factory=lambda: ["torch", "device", "device_name", "cuda", "cpu_model", "threads", "config_hash"],
        description="fingerprint keys that must match (others only warn)")


class CompareError(UserError):
    """Bad input to the gate: ``file: key: what is wrong; fix`` (exit 2)."""


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


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------

def mann_whitney_p(base: np.ndarray, new: np.ndarray, greater: bool) -> float:
    """One-sided Mann-Whitney U p-value that ``new`` is stochastically greater (or less) than ``base``."""
    if len(base) == 0 or len(new) == 0:
        return 1.0
    if np.all(base == base[0]) and np.all(new == new[0]) and base[0] == new[0]:
        return 1.0
    from scipy.stats import mannwhitneyu

    res = mannwhitneyu(new, base, alternative="greater" if greater else "less")
    p = float(res.pvalue)
    return 1.0 if math.isnan(p) else p


def bootstrap_p(base: np.ndarray, new: np.ndarray, greater: bool, resamples: int, seed: int = 0,
                statistic=np.mean) -> float:
    """One-sided bootstrap p-value of the difference of the statistic (new - base) having the other sign."""
    if len(base) == 0 or len(new) == 0:
        return 1.0
    rng = np.random.default_rng(seed)
    bm = statistic(base[rng.integers(0, len(base), (resamples, len(base)))], axis=1)
    nm = statistic(new[rng.integers(0, len(new), (resamples, len(new)))], axis=1)
    diff = nm - bm
    against = np.count_nonzero(diff <= 0) if greater else np.count_nonzero(diff >= 0)
    return float((against + 1) / (resamples + 1))


def min_one_sided_p(n_base: int, n_new: int) -> float:
    """The smallest p a one-sided rank test can reach with these sample counts (complete separation)."""
    if n_base == 0 or n_new == 0:
        return 1.0
    return 1.0 / math.comb(n_base + n_new, n_base)


def _spread(x: np.ndarray) -> float:
    if len(x) == 0:
        return float("nan")
    med = float(np.median(x))
    if med <= 0:
        return 0.0
    q75, q25 = np.percentile(x, [75, 25])
    return float((q75 - q25) / med)


def _noise(base: np.ndarray, new: np.ndarray, statistic: str = "mean") -> float:
    """~95 % half-width of the change from the per-sample spread (standard error of the difference).

    For the median the spread is the IQR-based sigma (robust to load spikes) and the standard error
    of a median is 1.2533 sigma / sqrt(n).
    """
    var = 0.0
    for x in (base, new):
        if len(x) > 1:
            if statistic == "median":
                q75, q25 = np.percentile(x, [75, 25])
                var += (1.2533 * (q75 - q25) / 1.349) ** 2 / len(x)
            else:
                var += float(np.var(x, ddof=1)) / len(x)
    return 2.0 * math.sqrt(var)


# ---------------------------------------------------------------------------------------------
# Loading per-sample values
# ---------------------------------------------------------------------------------------------

Key = tuple  # (workload, component, axis, category)


def per_sample_values(samples, axes: list[str], ok_workloads: set[str] | None = None
                      ) -> tuple[dict[Key, np.ndarray], dict[Key, np.ndarray], dict[tuple, str]]:
    """Per-sample values of every (workload, component, axis, category), plus totals and shares.

    Returns ``(values, shares, kinds)``. Totals are computed from the ``category`` axis: each
    component's per-sample sum, each workload's (component ``(all)``), and the suite's over the
    sample indices every workload shares. Categories absent from a sample count as 0 s.
    """
    import pandas as pd

    df = samples
    if ok_workloads is not None:
        df = df[df["workload"].isin(ok_workloads)]
    values: dict[Key, np.ndarray] = {}
    shares: dict[Key, np.ndarray] = {}
    kinds: dict[tuple, str] = {}
    for (wl, comp), kind in df.groupby(["workload", "component"], sort=False)["kind"].first().items():
        kinds[(wl, comp)] = str(kind)

    cat = df[df["axis"] == "category"]
    totals = None
    if len(cat):
        wide = cat.pivot_table(index=["workload", "component", "sample"], columns="category",
                               values="time_s", aggfunc="sum", fill_value=0.0)
        order = [c for c in CATEGORIES if c in wide.columns] + [c for c in wide.columns if c not in CATEGORIES]
        wide = wide[order]
        totals = wide.sum(axis=1)
        for (wl, comp), block in wide.groupby(level=[0, 1], sort=False):
            tot = block.sum(axis=1).to_numpy(dtype=float)
            values[(wl, comp, "category", TOTAL)] = tot
            if "category" in axes:
                safe = np.where(tot > 0, tot, np.nan)
                for c in CATEGORIES:
                    col = block[c].to_numpy(dtype=float) if c in block.columns else np.zeros(len(block))
                    values[(wl, comp, "category", c)] = col
                    shares[(wl, comp, "category", c)] = np.nan_to_num(col / safe) * 100.0
                for c in block.columns:
                    if c not in CATEGORIES:
                        col = block[c].to_numpy(dtype=float)
                        values[(wl, comp, "category", c)] = col
                        shares[(wl, comp, "category", c)] = np.nan_to_num(col / safe) * 100.0
        per_wl = totals.groupby(level=[0, 2]).sum()           # (workload, sample)
        for wl, block in per_wl.groupby(level=0, sort=False):
            values[(wl, ALL, "category", TOTAL)] = block.to_numpy(dtype=float)
        wide_wl = per_wl.unstack(level=0)
        suite = wide_wl.dropna()
        if len(suite) and suite.shape[1] > 1 and len(suite) == len(wide_wl):   # same samples everywhere
            values[(SUITE, ALL, "category", TOTAL)] = suite.sum(axis=1).to_numpy(dtype=float)

    for axis in axes:
        if axis == "category":
            continue
        sub = df[df["axis"] == axis]
        if not len(sub):
            continue
        wide = sub.pivot_table(index=["workload", "component", "sample"], columns="category",
                               values="time_s", aggfunc="sum", fill_value=0.0)
        for (wl, comp), block in wide.groupby(level=[0, 1], sort=False):
            tot = values.get((wl, comp, "category", TOTAL))
            for c in block.columns:
                col = block[c].to_numpy(dtype=float)
                values[(wl, comp, axis, c)] = col
                if tot is not None and len(tot) == len(col):
                    shares[(wl, comp, axis, c)] = np.nan_to_num(col / np.where(tot > 0, tot, np.nan)) * 100.0
    return values, shares, kinds


# ---------------------------------------------------------------------------------------------
# Fingerprints
# ---------------------------------------------------------------------------------------------

def fingerprint_diffs(base_manifest: dict, new_manifest: dict, keys: list[str]
                      ) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """(refused, warned): fingerprint keys whose values differ, split by whether they must match."""
    fb = dict(base_manifest.get("fingerprint") or {})
    fn = dict(new_manifest.get("fingerprint") or {})
    for fp, man in ((fb, base_manifest), (fn, new_manifest)):
        if "config_hash" not in fp and man.get("config_hash"):
            fp["config_hash"] = man["config_hash"]
    refused, warned = {}, {}
    for k in sorted(set(fb) | set(fn)):
        a, b = fb.get(k), fn.get(k)
        if a != b:
            (refused if k in keys else warned)[k] = (a, b)
    return refused, warned


def config_diffs(base_cfg: Any, new_cfg: Any, prefix: str = "") -> list[str]:
    """Readable differences between two resolved configs (``key.path: a -> b``)."""
    out: list[str] = []
    if isinstance(base_cfg, dict) and isinstance(new_cfg, dict):
        for k in sorted(set(base_cfg) | set(new_cfg), key=str):
            p = f"{prefix}.{k}" if prefix else str(k)
            if k not in base_cfg:
                out.append(f"{p}: (absent) -> {new_cfg[k]!r}")
            elif k not in new_cfg:
                out.append(f"{p}: {base_cfg[k]!r} -> (absent)")
            else:
                out.extend(config_diffs(base_cfg[k], new_cfg[k], p))
    elif isinstance(base_cfg, list) and isinstance(new_cfg, list) and len(base_cfg) == len(new_cfg):
        for i, (a, b) in enumerate(zip(base_cfg, new_cfg)):
            out.extend(config_diffs(a, b, f"{prefix}[{i}]"))
    elif base_cfg != new_cfg:
        out.append(f"{prefix}: {base_cfg!r} -> {new_cfg!r}")
    return out


# ---------------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------------

def load_run(path: str | Path):
    """Opens a saved run directory with the run-directory store (RunDirError -> CompareError)."""
    from .store import RunDir, RunDirError

    p = Path(path)
    if not p.exists():
        raise CompareError(p, "run", "no such run directory", "pass a directory written by `nscharacterize run`")
    if not p.is_dir():
        raise CompareError(p, "run", "not a directory", "pass a run directory (runs/<config>-<timestamp>/)")
    return RunDir(p)


def ok_workloads(manifest: dict, samples) -> tuple[set[str], set[str]]:
    names = set(samples["workload"].unique())
    failed = {w.get("name") for w in manifest.get("workloads") or [] if w.get("status", "ok") != "ok"}
    return names - failed, failed


def _samples(run, path) -> Any:
    df = run.samples()
    need = {"workload", "component", "kind", "axis", "category", "sample", "time_s"}
    missing = need - set(df.columns)
    if missing:
        raise CompareError(Path(path) / "samples.csv", ",".join(sorted(missing)), "column missing",
                           "rerun `nscharacterize run` with this version")
    if len(df) and not np.isfinite(df["time_s"].to_numpy(dtype=float)).all():
        raise CompareError(Path(path) / "samples.csv", "time_s", "has non-numeric or infinite values",
                           "rerun `nscharacterize run`; the file is corrupt")
    return df


def compare_runs(base_path: str | Path, new_path: str | Path, settings: CompareSettings | None = None,
                 allow_env_change: bool = False, allow_keys: tuple[str, ...] = ()) -> Comparison:
    """Compares two saved runs. Raises CompareError / RunDirError on bad or mismatched input.

    ``allow_keys`` names fingerprint keys that may differ without ``allow_env_change`` (the A/B
    mode passes ``config_hash`` when it compares two different configs on purpose).
    """
    settings = settings or CompareSettings()
    base, new = load_run(base_path), load_run(new_path)
    bm, nm = base.manifest, new.manifest
    refused, warned = fingerprint_diffs(bm, nm, settings.fingerprint_keys)
    blocking = {k: v for k, v in refused.items() if k not in allow_keys}
    if blocking and not allow_env_change:
        what = ", ".join(f"{k} {a!r} vs {b!r}" for k, (a, b) in blocking.items())
        raise CompareError(Path(new_path) / "manifest.json", "fingerprint",
                           f"environment differs from the base run ({what})",
                           "rerun both in the same environment, or pass --allow-env-change to compare anyway")
    cmp = Comparison(base=str(base_path), new=str(new_path), settings=settings, rows=[],
                     base_commit=bm.get("git_commit"), new_commit=nm.get("git_commit"),
                     env_diffs=refused, env_warnings=warned)
    if "config_hash" in refused:
        cmp.config_diffs = config_diffs(base.config, new.config)

    bs, ns = _samples(base, base_path), _samples(new, new_path)
    b_ok, b_failed = ok_workloads(bm, bs)
    n_ok, n_failed = ok_workloads(nm, ns)
    for w in sorted(b_failed):
        cmp.notes.append(f"workload {w} failed in the base run; not compared")
    bv, bsh, kinds = per_sample_values(bs, settings.axes, b_ok)
    nv, nsh, nkinds = per_sample_values(ns, settings.axes, n_ok)
    kinds = {**nkinds, **kinds}
    b_rounds = per_round_values(bs, settings.axes, b_ok) if settings.round_check else []
    n_rounds = per_round_values(ns, settings.axes, n_ok) if settings.round_check else []
    if len(b_rounds) >= 2 and len(n_rounds) >= 2:
        cmp.notes.append(f"A/B rounds: base {len(b_rounds)}, new {len(n_rounds)}; a change must exceed the "
                         "round-to-round drift of each side and hold in every round")
    else:
        b_rounds = n_rounds = []

    for wl in sorted(b_ok - n_ok):
        why = "failed" if wl in n_failed else "is absent"
        cmp.rows.append(_missing_row(wl, bv, "missing", f"workload {why} in the new run"))
    for wl in sorted(n_ok - b_ok - b_failed):
        cmp.rows.append(_missing_row(wl, nv, "added", "workload is new in this run"))

    keys = [k for k in bv if k in nv]
    keys += [k for k in nv if k not in bv and k[0] in b_ok and k[0] != SUITE]
    keys += [k for k in bv if k not in nv and k[0] in n_ok and k[0] != SUITE]
    few = {}
    for k in keys:
        if k in bv and k in nv and k[1] == ALL and k[3] == TOTAL:
            p_min = min_one_sided_p(len(bv[k]), len(nv[k]))
            cmp.min_p = max(cmp.min_p, p_min)
            if p_min >= settings.alpha:
                few[k[0]] = f"{k[0]} ({len(bv[k])} vs {len(nv[k])})"
    if few:
        cmp.notes.append(f"too few samples to ever reach alpha={settings.alpha:g} (its rows can only be 'within "
                         f"noise'): {', '.join(few.values())}; use more --samples or rounds")
    for key in keys:
        b = bv.get(key, np.zeros(0))
        n = nv.get(key, np.zeros(0))
        if key[3] != TOTAL and not np.any(b) and not np.any(n):
            continue   # a category neither run ever spent time in
        row = _row(key, b, n, bsh.get(key), nsh.get(key), kinds.get(key[:2], ""), settings)
        if b_rounds and row.verdict in ("regressed", "improved"):
            _round_check(row, [r.get(key) for r in b_rounds], [r.get(key) for r in n_rounds], settings)
        cmp.rows.append(row)
    if set(b_ok) != set(n_ok) and any(k[0] == SUITE for k in keys):
        cmp.notes.append("suite total compares different workload sets")
    cmp.rows.sort(key=_row_order)
    return cmp


def per_round_values(samples, axes: list[str], ok: set[str]) -> list[dict[Key, np.ndarray]]:
    """Per-sample values of each A/B round (merged runs carry a ``round`` column); [] without rounds."""
    if "round" not in samples.columns:
        return []
    return [per_sample_values(samples[samples["round"] == r], axes, ok)[0]
            for r in sorted(samples["round"].unique())]


def _round_check(row: Row, base_rounds: list, new_rounds: list, s: CompareSettings) -> None:
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


def _missing_row(wl: str, values: dict, verdict: str, note: str) -> Row:
    tot = values.get((wl, ALL, "category", TOTAL), np.zeros(0))
    m = float(tot.mean()) if len(tot) else float("nan")
    base_s, new_s = (m, float("nan")) if verdict == "missing" else (float("nan"), m)
    return Row(wl, ALL, "category", TOTAL, "", base_s, new_s, float("nan"), float("nan"), float("nan"),
               float("nan"), float("nan"), float("nan"), len(tot) if verdict == "missing" else 0,
               len(tot) if verdict == "added" else 0, verdict=verdict, note=note)


def _row(key: Key, b: np.ndarray, n: np.ndarray, bsh, nsh, kind: str, s: CompareSettings) -> Row:
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
    row = Row(wl, comp, axis, cat, kind, bm, nm, ratio, delta, _noise(b, n, s.statistic), _spread(b), _spread(n),
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


def _row_order(r: Row) -> tuple:
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
