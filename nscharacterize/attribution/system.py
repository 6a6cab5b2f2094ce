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
    """Long table of per-workload end-to-end, per-side and per-component times (mean per sample)."""
    if samples.empty:
        return pd.DataFrame(columns=SYSTEM_COLUMNS)
    totals = samples[samples["axis"] == "total"]
    cats = samples[samples["axis"] == "category"]
    frames = []
    for workload, tot in totals.groupby("workload", sort=False):
        e2e = tot.groupby("sample")["time_s"].sum()          # components run in sequence
        mean_e2e = float(e2e.mean())
        rows = [_row(workload, "end_to_end", "all", "total", e2e, mean_e2e)]
        # (side, category) x sample in one group-by: the 2 x 9 cells are looked up, not filtered
        by_cell = (cats[cats["workload"] == workload].groupby(["kind", "category", "sample"])["time_s"].sum()
                   .unstack("sample").reindex(columns=e2e.index).fillna(0.0))
        zeros = pd.Series(0.0, index=e2e.index)
        for side in SIDES:
            side_tot = tot[tot["kind"] == side].groupby("sample")["time_s"].sum().reindex(e2e.index, fill_value=0.0)
            rows.append(_row(workload, "side", side, "total", side_tot, mean_e2e))
            for c in CATEGORIES:
                per_sample = by_cell.loc[(side, c)] if (side, c) in by_cell.index else zeros
                rows.append(_row(workload, "side", side, c, per_sample, mean_e2e))
        for component, comp in tot.groupby("component", sort=False):
            per_sample = comp.set_index("sample")["time_s"].reindex(e2e.index, fill_value=0.0)
            rows.append(_row(workload, "component", component, "total", per_sample, mean_e2e))
        frames.append(pd.DataFrame(rows, columns=SYSTEM_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def _row(workload: str, scope: str, group: str, category: str, per_sample: pd.Series, e2e: float) -> list:
    mean = float(per_sample.mean())
    std = float(per_sample.std()) if len(per_sample) > 1 else 0.0
    return [workload, scope, group, category, mean, mean / e2e if e2e > 0 else 0.0, std, int(len(per_sample))]


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
