"""report.html of a sweep directory: the points, the scaling fits and a log-log figure of each
component's total time against the swept parameter, on one page that opens offline.

Built from the same tables the sweep's table.md comes from (``sweep.json`` and ``scaling.csv``),
with the generic ``html.sweep_page``; called by ``sweep_report.render_sweep``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from nscharacterize.taxonomy.categories import LABELS

from nscharacterize.rundir import store
from .format import fmt_time
from .sweep_report import split
from .html import sweep_page, write_page


def write_sweep_report(sweep_dir: Path, manifest: dict, table: pd.DataFrame) -> Path:
    points = pd.DataFrame([{"point": p.get("name"), "status": p.get("status"), "attempts": p.get("attempts"),
                            "seconds": p.get("seconds"), "run directory": p.get("run_dir") or "",
                            "params": json.dumps(p.get("params") or {}), "error": p.get("error") or ""}
                           for p in manifest.get("points", [])])
    facts = {"parameters": manifest.get("parameters"), "mode": manifest.get("mode"),
             "executor": manifest.get("executor"), "status": manifest.get("status"), "swept": manifest.get("x")}
    figures = [f for f in (_totals_figure(table),) if f is not None]
    fits, zero = fits_table(table)
    notes = ["Fits: time = a * x^b, least squares on log-log axes; b's interval from a bootstrap over "
             "per-sample times."]
    if zero:
        notes.append(f"{zero} category row(s) with no time at any point are left out of the tables here "
                     "(they are in scaling.csv).")
    page = sweep_page(f"nscharacterize sweep: {manifest.get('name', sweep_dir.name)}",
                      {"Scaling fits": fits, "Points": points,
                       "Scaling fits as saved (scaling.csv)": _nonzero(table)},
                      subtitle="Each point is a run directory of its own, with its own report.html.",
                      facts_=facts, figures=figures, notes=notes)
    return write_page(sweep_dir / store.REPORT_HTML, page)


def _nonzero(table: pd.DataFrame) -> pd.DataFrame:
    """scaling.csv without its category rows that hold no time at any point."""
    if table.empty:
        return table
    keep = [r.axis != "category" or bool((split(r.mean_s) > 0).any()) for r in table.itertuples()]
    return table[keep]


def fits_table(table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The fits, what they say first (b, its interval, R^2), then where they come from; rows of
    categories with no time at any point left out (their count is returned)."""
    rows = []
    if table.empty:
        return pd.DataFrame(), 0
    kept = _nonzero(table)
    for r in kept.itertuples():
        label = ("Total" if r.axis == "total" else f"{r.category} side" if r.axis == "kind"
                 else LABELS.get(r.category, r.category))
        rows.append({"workload": r.workload, "component": r.component, "category": label,
                     "b": _round(r.b), "b 95% interval": f"[{_num(r.b_lo)}, {_num(r.b_hi)}]", "R^2": _round(r.r2),
                     "points": r.n_points, "other parameters": r.others if isinstance(r.others, str) else "",
                     "note": r.note if isinstance(r.note, str) else "",
                     f"mean time at {r.parameter} = " + " / ".join(f"{v:g}" for v in split(r.x)):
                     " / ".join(fmt_time(v) for v in split(r.mean_s))})
    frame = pd.DataFrame(rows)
    empty = [c for c in ("other parameters", "note") if not frame[c].astype(bool).any()]
    return frame.drop(columns=empty), len(table) - len(kept)


def _round(v) -> float | None:
    return None if v is None or v != v else round(float(v), 3)


def _num(v) -> str:
    return "-" if v is None or v != v else f"{v:.2f}"


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
    swept = sorted({float(v) for x in totals["x"] for v in split(x)})
    fig.update_layout(title="Total time per sample against the swept parameter (log-log)",
                      xaxis=dict(type="log", title=str(totals["parameter"].iloc[0]) if "parameter" in totals else "x",
                                 tickvals=swept, ticktext=[f"{v:g}" for v in swept]),
                      yaxis=dict(type="log", title="seconds per sample"))
    return fig
