"""Table III both ways: a saved run's category shares under proportional and per-event compensation.

The attribution is derived from a run's saved events, timings and manifest (the per-event costs
are in its ``compensation`` entry), so the two compensations are compared on the very same
profiles, side by side, with no second run and no noise between them:

    python benchmarks/compensation_tables.py runs/quickstart-...        # Markdown on stdout
    python benchmarks/compensation_tables.py RUN_DIR --min-shift 3      # only shifts of 3 points or more

A run written before the manifest had the costs is compensated with this machine's (cached)
calibration, and the output says so.
"""
from __future__ import annotations

import argparse
import sys

import pandas as pd

from nscharacterize.attribution.aggregate import attribute, breakdown
from nscharacterize.profiler import calibration
from nscharacterize.rundir.store import RunDir
from nscharacterize.taxonomy.categories import CATEGORIES, SHORT

MODES = ("proportional", "per_event")


def shares(run: RunDir) -> tuple[pd.DataFrame, str]:
    """Per (workload, component, category): the share of the unprofiled wall under each mode."""
    manifest = run.manifest
    comp = dict(manifest.get("compensation") or {})
    source = "the run's manifest"
    if not isinstance(comp.get("torch"), dict):
        cost = calibration.profiler_cost(manifest.get("fingerprint") or {})
        comp.update(torch=cost["torch"], cprofile=cost["cprofile"])
        source = f"this machine's calibration ({cost.get('cache_file')})"
    events, timings = run.events(), run.timings()
    out = []
    for mode in MODES:
        bd = breakdown(attribute(events, timings, {**comp, "mode": mode}).samples)
        bd = bd[bd["axis"] == "category"][["workload", "component", "category", "share"]]
        out.append(bd.rename(columns={"share": mode}).set_index(["workload", "component", "category"]))
    table = pd.concat(out, axis=1).reset_index()
    table["shift"] = (table["per_event"] - table["proportional"]) * 100
    return table, source


def markdown(table: pd.DataFrame, min_shift: float = 0.0) -> str:
    """One row per component: each category as proportional -> per-event (points), then the
    largest shift."""
    cats = [c for c in CATEGORIES if (table[table["category"] == c][["proportional", "per_event"]] > 0.0005).any().any()]
    lines = ["| workload / component | " + " | ".join(SHORT[c] for c in cats) + " | largest shift |",
             "|---|" + "---|" * (len(cats) + 1)]
    for (w, c), grp in table.groupby(["workload", "component"], sort=False):
        g = grp.set_index("category")
        big = g["shift"].abs().idxmax()
        if abs(g.loc[big, "shift"]) < min_shift:
            continue
        cells = [f"{100 * g.loc[k, 'proportional']:.1f} → {100 * g.loc[k, 'per_event']:.1f}" for k in cats]
        lines.append(f"| {w} / {c} | " + " | ".join(cells) + f" | {SHORT[big]} {g.loc[big, 'shift']:+.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="run directories")
    ap.add_argument("--min-shift", type=float, default=0.0, help="leave out components that move less (points)")
    args = ap.parse_args(argv)
    for path in args.runs:
        run = RunDir(path)
        table, source = shares(run)
        print(f"## {run.path.name}\n\nShares of the unprofiled wall, proportional → per-event, in %; costs from "
              f"{source}.\n")
        print(markdown(table, args.min_shift))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
