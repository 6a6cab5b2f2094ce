"""The system view: a workload end to end, and its neural versus symbolic split.

Components run in sequence, so a sample's end-to-end latency is the sum of its components' wall
times. Per workload this module answers the study's headline questions in numbers: how long a
sample takes, how much of it the neural and the symbolic side take (whichever profiler measured
them), each component's share of the end-to-end time, and, within each side, the category
breakdown. Everything is computed from the per-sample table (samples.csv), so the report of a
saved run rebuilds it.
"""
from __future__ import annotations

import pandas as pd

from nscharacterize.rundir.schemas import SYSTEM
from nscharacterize.taxonomy.categories import CATEGORIES

SYSTEM_COLUMNS = SYSTEM.names   # the schema of system.csv (nscharacterize/rundir/schemas.py)
"""``scope``: ``end_to_end`` (group ``all``), ``side`` (group ``neural`` or ``symbolic``) or
``component`` (group = component name). ``category``: ``total`` or one of the nine categories.
``share``: of the workload's end-to-end time per sample."""

SIDES = ("neural", "symbolic")


def system_view(samples: pd.DataFrame) -> pd.DataFrame:
    """Long table of per-workload end-to-end, per-side and per-component times (mean per sample).

    Every quantity is first put on one grid of (workload, sample) rows, a sample where a part did
    not run counting 0, then averaged per workload in one group-by: a run rewrites this view after
    each workload, and a loop over workloads, sides and categories cost a quarter of a second per
    rewrite on configs/ci.yaml."""
    if samples.empty:
        return pd.DataFrame(columns=SYSTEM_COLUMNS)
    tot = samples[samples["axis"] == "total"]
    if tot.empty:
        return pd.DataFrame(columns=SYSTEM_COLUMNS)
    cats = samples[samples["axis"] == "category"]
    e2e = tot.groupby(["workload", "sample"])["time_s"].sum()   # components run in sequence
    grid = e2e.index
    zeros = pd.Series(0.0, index=grid)

    def on_grid(series: pd.Series, key) -> pd.Series:
        levels = list(range(len(key))) if isinstance(key, tuple) else 0
        try:
            return series.xs(key, level=levels).reindex(grid, fill_value=0.0)
        except KeyError:
            return zeros

    side_tot = tot[tot["kind"].isin(SIDES)].groupby(["kind", "workload", "sample"])["time_s"].sum()
    side_cat = cats[cats["kind"].isin(SIDES)].groupby(["kind", "category", "workload", "sample"])["time_s"].sum()
    comp = tot.groupby(["component", "workload", "sample"])["time_s"].sum()
    end_to_end = ("end_to_end", "all", "total")
    columns = {end_to_end: e2e}
    for side in SIDES:
        columns[("side", side, "total")] = on_grid(side_tot, side)
        for c in CATEGORIES:
            columns[("side", side, c)] = on_grid(side_cat, (side, c))
    for name in dict.fromkeys(tot["component"]):
        columns[("component", name, "total")] = on_grid(comp, name)
    per = pd.DataFrame(columns, index=grid).groupby(level="workload", sort=False)
    mean, std, n = per.mean(), per.std().fillna(0.0), per.size()
    rows = []
    for workload, own in tot.groupby("workload", sort=False):
        base = float(mean.loc[workload, end_to_end])
        keys = [end_to_end] + [k for side in SIDES for k in [("side", side, "total")] +
                               [("side", side, c) for c in CATEGORIES]]
        keys += [("component", name, "total") for name in dict.fromkeys(own["component"])]
        count = int(n[workload])
        for key in keys:
            m = float(mean.loc[workload, key])
            rows.append([workload, *key, m, m / base if base > 0 else 0.0,
                         float(std.loc[workload, key]) if count > 1 else 0.0, count])
    return pd.DataFrame(rows, columns=SYSTEM_COLUMNS)


def side_split(system: pd.DataFrame) -> pd.DataFrame:
    """One row per workload: end-to-end, neural and symbolic time and shares (for tables)."""
    if system.empty:
        return pd.DataFrame(columns=["workload", "end_to_end_s", "std_s", "neural_s", "neural_share",
                                     "symbolic_s", "symbolic_share"])
    tot = system[system["category"] == "total"]
    rows = []
    for workload, grp in tot.groupby("workload", sort=False):
        e2e = grp[grp["scope"] == "end_to_end"].iloc[0]
        side = grp[grp["scope"] == "side"].set_index("group")
        rows.append({"workload": workload, "end_to_end_s": e2e["time_s"], "std_s": e2e["std_s"],
                     "neural_s": side.loc["neural", "time_s"], "neural_share": side.loc["neural", "share"],
                     "symbolic_s": side.loc["symbolic", "time_s"], "symbolic_share": side.loc["symbolic", "share"]})
    return pd.DataFrame(rows)
