"""How each category grows with the problem: a power law ``time = a * x^b`` per component and
category over the points of a sweep.

The fit is least squares on log-log axes over the per-point mean times; the confidence interval
of the exponent ``b`` comes from a bootstrap over the per-sample times (each point's samples are
resampled with replacement, the means refitted); goodness of fit is R^2 on the log-log axes. The
bootstrap's generator has a fixed seed, so the same saved points always give the same interval.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nscharacterize.taxonomy.categories import CATEGORIES

SCALING_COLUMNS = ["workload", "component", "axis", "category", "parameter", "others", "n_points", "x",
                   "mean_s", "std_s", "a", "b", "b_lo", "b_hi", "r2", "note"]
BOOTSTRAP = 1000
CONFIDENCE = 0.95
FITTED_AXES = ("category", "total")


@dataclass
class Point:
    """One finished sweep point: its parameter values and its per-sample table (samples.csv)."""

    params: dict
    samples: pd.DataFrame


def fit_power_law(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(a, b, R^2) of ``y = a * x^b`` by least squares on log-log axes."""
    lx, ly = np.log(x), np.log(y)
    b, log_a = np.polyfit(lx, ly, 1)
    resid = ly - (log_a + b * lx)
    ss_tot = float(((ly - ly.mean()) ** 2).sum())
    r2 = 1.0 - float((resid ** 2).sum()) / ss_tot if ss_tot > 0 else 1.0
    return float(np.exp(log_a)), float(b), r2


def bootstrap_exponent(x: np.ndarray, per_point: list[np.ndarray], rng: np.random.Generator,
                       n: int = BOOTSTRAP) -> tuple[float, float]:
    """Confidence interval of ``b`` from resampling each point's per-sample times."""
    lx = np.log(x)
    draws = np.empty(n)
    for i in range(n):
        means = np.array([v[rng.integers(0, len(v), len(v))].mean() for v in per_point])
        if (means <= 0).any():
            draws[i] = np.nan
            continue
        draws[i] = np.polyfit(lx, np.log(means), 1)[0]
    draws = draws[~np.isnan(draws)]
    if len(draws) == 0:
        return float("nan"), float("nan")
    tail = (1 - CONFIDENCE) / 2 * 100
    return float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail))


def scaling_table(points: list[Point], parameter: str) -> pd.DataFrame:
    """Fits every (workload, component, category) of the category and total axes against
    ``parameter``, separately for each combination of the other swept parameters."""
    long = []
    for p in points:
        if not np.issubdtype(type(p.params.get(parameter)), np.number) or isinstance(p.params.get(parameter), bool):
            continue
        s = p.samples[p.samples["axis"].isin(FITTED_AXES)]
        s = pd.concat([s, side_totals(p.samples)], ignore_index=True)
        others = ",".join(f"{k}={v}" for k, v in sorted(p.params.items()) if k != parameter)
        long.append(s.assign(x=float(p.params[parameter]), others=others))
    if not long:
        return pd.DataFrame(columns=SCALING_COLUMNS)
    data = pd.concat(long, ignore_index=True)
    rng = np.random.default_rng(0)
    rows = []
    keys = ["workload", "component", "axis", "category", "others"]
    for key, grp in data.groupby(keys, sort=False):
        by_x = {x: g["time_s"].to_numpy(dtype=float) for x, g in sorted(grp.groupby("x"), key=lambda kv: kv[0])}
        xs = np.array(list(by_x))
        means = np.array([v.mean() for v in by_x.values()])
        stds = np.array([v.std(ddof=1) if len(v) > 1 else 0.0 for v in by_x.values()])
        row = dict(zip(keys, key), parameter=parameter, n_points=len(xs), x=_join(xs), mean_s=_join(means),
                   std_s=_join(stds), a=np.nan, b=np.nan, b_lo=np.nan, b_hi=np.nan, r2=np.nan, note="")
        positive = (means > 0) & (xs > 0)
        if positive.sum() < 2:
            row["note"] = "fewer than 2 points with a positive time"
        else:
            if not positive.all():
                row["note"] = f"fitted on {int(positive.sum())} of {len(xs)} points (zero time elsewhere)"
            x_fit = xs[positive]
            row["a"], row["b"], row["r2"] = fit_power_law(x_fit, means[positive])
            kept = [v for v, ok in zip(by_x.values(), positive) if ok]
            row["b_lo"], row["b_hi"] = bootstrap_exponent(x_fit, kept, rng)
        rows.append(row)
    table = pd.DataFrame(rows, columns=SCALING_COLUMNS)
    first_seen = {k: i for i, k in enumerate(dict.fromkeys(zip(data["workload"], data["component"])))}
    order = {c: i for i, c in enumerate(CATEGORIES + ("total",))}
    table["_r"] = [first_seen[k] for k in zip(table["workload"], table["component"])]
    table["_c"] = table["category"].map(order)
    return table.sort_values(["others", "_r", "_c"], kind="stable").drop(columns=["_r", "_c"]).reset_index(drop=True)


SIDES = "(all)"  # the component name of the neural-side and symbolic-side rows


def side_totals(samples: pd.DataFrame) -> pd.DataFrame:
    """Per workload and sample, the summed time of its neural and of its symbolic components, as
    rows of axis ``kind`` (component ``(all)``, category ``neural`` / ``symbolic``): fitting both
    sides tests whether the neural/symbolic ratio stays stable as the task grows (equal exponents)."""
    if "kind" not in samples.columns:
        return samples.iloc[0:0]
    total = samples[samples["axis"] == "total"]
    if total.empty:
        return samples.iloc[0:0]
    sides = total.groupby(["workload", "kind", "sample"], as_index=False, sort=False)["time_s"].sum()
    return sides.assign(component=SIDES, axis="kind", category=sides["kind"])


def _join(values: np.ndarray) -> str:
    return ";".join(f"{v:.6g}" for v in values)
