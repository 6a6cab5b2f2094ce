"""report.html of a sweep directory: the points, the scaling fits and a log-log figure of each
component's total time against the swept parameter, on one page that opens offline.

Built from the same tables the sweep's table.md comes from (``sweep.json`` and ``scaling.csv``),
with the generic ``html.sweep_page``; called by ``sweep_report.render_sweep``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from nscharacterize.attribution.scaling import split

from nscharacterize.rundir import store
from .format import fmt_time
from .html import sweep_page, write_page


def write_sweep_report(sweep_dir: Path, manifest: dict, table: pd.DataFrame) -> Path:
    points = pd.DataFrame([{"point": p.get("name"), "status": p.get("status"), "attempts": p.get("attempts"),
                            "seconds": p.get("seconds"), "run directory": p.get("run_dir") or "",
                            "params": json.dumps(p.get("params") or {}), "error": p.get("error") or ""}
                           for p in manifest.get("points", [])])
    facts = {"parameters": manifest.get("parameters"), "mode": manifest.get("mode"),
             "executor": manifest.get("executor"), "status": manifest.get("status"), "swept": manifest.get("x")}
    figures = [f for f in (_totals_figure(table),) if f is not None]
    page = sweep_page(f"nscharacterize sweep: {manifest.get('name', sweep_dir.name)}",
                      {"Points": points, "Scaling fits (scaling.csv)": table},
                      subtitle="Each point is a run directory of its own, with its own report.html.",
                      facts_=facts, figures=figures,
                      notes=["Fits: time = a * x^b, least squares on log-log axes; b's interval from a bootstrap "
                             "over per-sample times."])
    return write_page(sweep_dir / store.REPORT_HTML, page)


def _totals_figure(table: pd.DataFrame):
    import plotly.graph_objects as go

    if table.empty or "axis" not in table.columns:
        return None
    totals = table[table["axis"] == "total"]
    if totals.empty:
        return None
    fig = go.Figure()
    for r in totals.itertuples():
        xs, means = split(r.x), split(r.mean_s)
        if not len(xs):
            continue
        name = f"{r.workload} / {r.component}" + (f" ({r.others})" if isinstance(r.others, str) and r.others else "")
        fig.add_trace(go.Scatter(x=xs, y=means, mode="lines+markers", name=name,
                                 customdata=[fmt_time(m) for m in means],
                                 hovertemplate=name + "<br>%{x}: %{customdata} per sample<extra></extra>"))
    fig.update_layout(title="Total time per sample against the swept parameter (log-log)",
                      xaxis=dict(type="log", title=str(totals["parameter"].iloc[0]) if "parameter" in totals else "x"),
                      yaxis=dict(type="log", title="seconds per sample"))
    return fig
