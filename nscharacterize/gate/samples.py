"""Per-sample values: samples.csv reshaped into one array per (workload, component, axis, category).

The gate tests per-sample values, not means, so that noise shows. Besides the categories it builds
the totals the verdicts and the history need: each component's per-sample total, each workload's
(component ``(all)``), and the suite's.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from nscharacterize.taxonomy.categories import CATEGORIES

TOTAL = "total"          # category name of a total row
ALL = "(all)"            # component name of a workload-total row
SUITE = "(suite)"        # workload name of the suite-total row

Key = tuple  # (workload, component, axis, category)


def per_sample_values(samples: pd.DataFrame, axes: list[str], ok_workloads: set[str] | None = None
                      ) -> tuple[dict[Key, np.ndarray], dict[Key, np.ndarray], dict[tuple, str]]:
    """Per-sample values of every (workload, component, axis, category), plus totals and shares.

    Returns ``(values, shares, kinds)``. Totals are computed from the ``category`` axis: each
    component's per-sample sum, each workload's (component ``(all)``), and the suite's over the
    sample indices every workload shares. Categories absent from a sample count as 0 s.
    """
    df = samples
    if ok_workloads is not None:
        df = df[df["workload"].isin(ok_workloads)]
    values: dict[Key, np.ndarray] = {}
    shares: dict[Key, np.ndarray] = {}
    kinds: dict[tuple, str] = {}
    for (wl, comp), kind in df.groupby(["workload", "component"], sort=False)["kind"].first().items():
        kinds[(wl, comp)] = str(kind)

    cat = df[df["axis"] == "category"]
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


def per_round_values(samples: pd.DataFrame, axes: list[str], ok: set[str]) -> list[dict[Key, np.ndarray]]:
    """Per-sample values of each A/B round (merged runs carry a ``round`` column); [] without rounds."""
    if "round" not in samples.columns:
        return []
    return [per_sample_values(samples[samples["round"] == r], axes, ok)[0]
            for r in sorted(samples["round"].unique())]


def workload_categories(values: dict[Key, np.ndarray]) -> dict[Key, np.ndarray]:
    """Per-workload category series (summed over components per sample) under component ``(all)``."""
    acc: dict[Key, np.ndarray] = {}
    for (wl, comp, axis, cat), v in values.items():
        if comp == ALL or axis != "category" or cat == TOTAL:
            continue
        key = (wl, ALL, "category", cat)
        if key not in acc:
            acc[key] = v.astype(float).copy()
        elif len(acc[key]) == len(v):
            acc[key] = acc[key] + v
    return acc
