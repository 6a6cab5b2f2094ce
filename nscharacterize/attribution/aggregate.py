"""From classified events and timings to per-sample category times and the breakdown.

Exclusive attribution, per component and sample (docs/architecture.md, "Attribution"):
the unprofiled wall time W is split into the categories by the profiled self times with the
profiler's own cost taken out (nscharacterize/attribution/compensation.py: per recorded event, or
in proportion to W / profiled wall), and the rest of W (time outside any op) goes to Other. The
categories therefore add up to W; ``addup`` measures how exactly they do.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nscharacterize.profiler.events import op_time_us
from nscharacterize.rundir.schemas import BREAKDOWN, CHECKS, SAMPLES
from nscharacterize.taxonomy.categories import BOUND_SPLIT, CATEGORIES, DEVICE_CATEGORIES, OTHER_SPLIT, PY_CATEGORIES

from .compensation import mode_of, per_event_us
from .views import BOUND_AXIS, BOUND_SPLIT_AXIS, DEVICE_AXIS, addup_errors, cuda_views

SAMPLE_COLUMNS = SAMPLES.names        # the schemas of samples.csv and breakdown.csv (rundir/schemas.py)
BREAKDOWN_COLUMNS = BREAKDOWN.names
# ``category`` is the host view on every device; the three CUDA axes exist for torch components on CUDA.
AXES = {"category": CATEGORIES, "other_split": OTHER_SPLIT, "python": PY_CATEGORIES,
        BOUND_AXIS: CATEGORIES, BOUND_SPLIT_AXIS: BOUND_SPLIT, DEVICE_AXIS: DEVICE_CATEGORIES, "total": ("total",)}
_COMP = ["workload", "component", "sample"]


@dataclass
class Attribution:
    samples: pd.DataFrame     # long form, SAMPLE_COLUMNS
    checks: pd.DataFrame      # per (workload, component, sample): wall, scale, addup error, clamped


def attribute(events: pd.DataFrame, timings: pd.DataFrame, compensation: dict | None = None) -> Attribution:
    """Splits every (workload, component, sample) wall time into categories. ``compensation`` is
    the manifest's entry of that name (mode and measured per-event costs); without it, or without
    its costs, the profiler's cost is taken out in proportion (``compensation.mode_of``)."""
    per_event = mode_of(compensation) == "per_event"
    if timings.empty:
        return Attribution(pd.DataFrame(columns=SAMPLE_COLUMNS),
                           pd.DataFrame(columns=CHECKS.names))
    if len(events):
        host = op_time_us(events)
        if per_event:
            host = per_event_us(events, host, compensation or {})
        ev = events.assign(t_us=host)
    else:
        ev = events.assign(t_us=[])
    ev = ev.assign(other_kind=np.where(ev["category"] != "other", "",
                                       np.where(ev["rule"].astype(str) != "", "ops_deliberate", "ops_unmatched")))
    by_cat = ev.groupby(_COMP + ["category"], observed=True)["t_us"].sum().unstack("category")
    by_cat = by_cat.reindex(columns=list(CATEGORIES), fill_value=0.0)
    by_other = ev[ev["other_kind"] != ""].groupby(_COMP + ["other_kind"], observed=True)["t_us"].sum().unstack("other_kind")
    by_py = ev[ev["source"] == "python"].groupby(_COMP + ["subcategory"], observed=True)["t_us"].sum().unstack("subcategory")

    t = timings.set_index(_COMP)
    idx = t.index
    cats = by_cat.reindex(idx).fillna(0.0) / 1e6
    measured = cats.sum(axis=1)
    wall, prof = t["wall_s"], t["profiled_wall_s"]
    # Proportional: every op inflated alike, so scale by W/P (on a GPU too: this is the host view).
    # Per event: the cost is already out of each row. Either way never let op time exceed W.
    if per_event:
        scale = pd.Series(1.0, index=idx)
    else:
        scale = (wall / prof.where(prof > 0, np.nan)).to_numpy()
        scale = pd.Series(np.nan_to_num(scale, nan=1.0), index=idx)
    clamped = measured * scale > wall
    scale = scale.where(~clamped, wall / measured.where(measured > 0, np.nan)).fillna(1.0)
    outside = (wall - measured * scale).clip(lower=0.0)

    cats = cats.mul(scale, axis=0)
    split = by_other.reindex(idx).reindex(columns=list(OTHER_SPLIT)).fillna(0.0) / 1e6
    split = split.mul(scale, axis=0)
    split["outside_ops"] = outside
    cats["other"] = split.sum(axis=1)
    py = by_py.reindex(idx).reindex(columns=list(PY_CATEGORIES)).fillna(0.0) / 1e6
    py = py.mul(scale, axis=0)
    py["other"] += outside
    # The Python axis: cProfile components, and torch components whose trace has Python stack
    # events (with_stack): their time outside ops splits by Python function.
    with_stack = pd.Series(False, index=idx)
    if len(by_py):
        with_stack = pd.Series(idx.isin(by_py.index), index=idx)
    has_py = (t["profiler"] == "cprofile") | with_stack

    views = cuda_views(ev, timings)
    frames = [_long(cats, "category", t), _long(split, "other_split", t),
              _long(py[has_py], "python", t[has_py])]
    frames += [_long(frame, axis, t.loc[frame.index]) for axis, frame in views.items()]
    frames.append(_long(wall.to_frame("total"), "total", t))
    samples = pd.concat([f for f in frames if len(f)], ignore_index=True)[SAMPLE_COLUMNS]
    samples = samples.astype({"time_s": "float64", "sample": "int64"})
    err = (cats.sum(axis=1) - wall).abs()
    view_err = addup_errors(views, wall)
    if len(view_err):
        err = pd.concat([err, view_err.reindex(err.index)], axis=1).max(axis=1)
    checks = pd.DataFrame({"wall_s": wall, "profiled_wall_s": prof, "scale": scale,
                           "addup_error_s": err, "clamped": clamped}).reset_index()[CHECKS.names]
    return Attribution(samples, checks)


def _long(frame: pd.DataFrame, axis: str, t: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (index workload, component, sample; a column per category) as rows of
    samples.csv, column by column as ``DataFrame.melt`` orders them, with each row's kind and
    device from ``t``. Built from the arrays: attribution makes seven of these, and melt cost
    3 ms each (a fixed part of every import-trace and report)."""
    if frame.empty:
        return pd.DataFrame(columns=SAMPLE_COLUMNS)
    n, m = frame.shape
    index = frame.index
    rows = np.tile(np.arange(n), m)   # taken from the typed arrays: the key columns keep their dtypes
    out = {k: index.get_level_values(k).array.take(rows) for k in _COMP}
    for k in ("kind", "device"):
        out[k] = t[k].reindex(index).array.take(rows)
    out["category"] = np.repeat(np.asarray(frame.columns, dtype=object), n)
    out["time_s"] = frame.to_numpy(dtype=float).ravel(order="F")
    out["axis"] = axis
    return pd.DataFrame(out)


def breakdown(samples: pd.DataFrame) -> pd.DataFrame:
    """Mean per sample, share of the component's wall time and the per-sample spread."""
    keys = ["workload", "component", "kind", "device", "axis", "category"]
    if samples.empty:
        return pd.DataFrame(columns=BREAKDOWN_COLUMNS)
    g = samples.groupby(keys, sort=False)["time_s"]
    out = g.agg(time_s="mean", std_s="std", min_s="min", max_s="max", n_samples="count")
    out["p25_s"] = g.quantile(0.25)
    out["p75_s"] = g.quantile(0.75)
    out = out.reset_index()
    out["std_s"] = out["std_s"].fillna(0.0)
    totals = out[out["axis"] == "total"].set_index(["workload", "component"])["time_s"]
    denom = out.set_index(["workload", "component"]).index.map(totals)
    out["share"] = (out["time_s"] / np.asarray(denom, dtype=float)).fillna(0.0)
    first_seen = {key: i for i, key in enumerate(dict.fromkeys(zip(samples["workload"], samples["component"])))}
    out["_row"] = [first_seen[key] for key in zip(out["workload"], out["component"])]
    out["_order"] = [_order(a, c) for a, c in zip(out["axis"], out["category"])]
    out = out.sort_values(["_row", "_order"], kind="stable").drop(columns=["_row", "_order"])
    return out[BREAKDOWN_COLUMNS].reset_index(drop=True)


def _order(axis: str, category: str) -> int:
    axes = list(AXES)
    return axes.index(axis) * 100 + list(AXES[axis]).index(category)
