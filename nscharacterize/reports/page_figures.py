"""The figures of report.html as Plotly figure specs: plain dicts of ``data`` and ``layout``.

Plotly's JavaScript draws them in the browser (hover, zoom, legend toggles, and a camera button
that saves any figure as a PNG), so making one costs building a dict. Building them through
``plotly.graph_objects`` validated every property of every trace in Python, and the matplotlib
PNGs the page used to sit beside cost more than the whole analysis of a trace (issues 22 and 23);
those files are now drawn only when asked for (``--png``, nscharacterize/reports/plots.py).

Each function takes the frames the page already has (the wide breakdown tables, roofline.csv) and
returns a dict for ``html.figure``, or None when there is nothing to draw.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from nscharacterize.taxonomy.categories import COLORS, LABELS

from .format import fmt_time
from .html import esc

Figure = dict[str, Any]


def row_names(index) -> list[str]:
    """``workload / component`` for each row of a wide breakdown table."""
    return [f"{key[0]} / {key[1]}" for key in index]


def heatmap(shares: pd.DataFrame, times: pd.DataFrame, labels: dict[str, str]) -> Figure:
    """Fig. 5 form: each component's share of its runtime per category, annotated, with the time
    per sample on hover."""
    text = [[fmt_time(t) for t in row] for row in times.to_numpy()]
    trace = {"type": "heatmap", "z": (shares * 100).to_numpy().tolist(), "x": [labels[c] for c in shares.columns],
             "y": row_names(shares.index), "zmin": 0, "zmax": 100, "colorscale": "Blues", "customdata": text,
             "texttemplate": "%{z:.1f}", "xgap": 1, "ygap": 1, "colorbar": {"title": {"text": "share (%)"}},
             "hovertemplate": "%{y}<br>%{x}: %{z:.3f} % of the component<br>%{customdata} per sample<extra></extra>"}
    return {"data": [trace], "layout": {"title": {"text": "Runtime share by operator category (Fig. 5 form)"},
                                        "yaxis": {"autorange": "reversed"}}}


def stacked(times: pd.DataFrame, shares: pd.DataFrame, labels: dict[str, str], colors: dict[str, str], title: str,
            *, share_of: str = "of the component") -> Figure:
    """Horizontal stacked bars, one per row, the categories left to right in the columns' order;
    the legend beside the plot in that same order (top to bottom), clear of the axis title; each
    bar's total printed past its end, inside the plotted range."""
    names = row_names(times.index)
    data: list[dict] = []
    for cat in times.columns:
        data.append({
            "type": "bar", "orientation": "h", "y": names, "x": (times[cat].to_numpy() * 1e3).tolist(),
            "name": labels[cat], "marker": {"color": colors.get(cat)},
            "customdata": [[fmt_time(t), s * 100] for t, s in zip(times[cat], shares[cat].to_numpy())],
            "hovertemplate": "%{y}<br>" + esc(labels[cat]) + ": %{customdata[0]} per sample "
                             "(%{x:.6f} ms, %{customdata[1]:.2f} % " + esc(share_of) + ")<extra></extra>"})
    totals = times.sum(axis=1)
    longest = float(totals.max()) * 1e3 if len(totals) else 0.0
    data.append({"type": "scatter", "mode": "text", "showlegend": False, "y": names,
                 "x": (totals.to_numpy() * 1e3).tolist(), "text": [f" {fmt_time(t)}" for t in totals],
                 "textposition": "middle right", "hoverinfo": "skip", "cliponaxis": False})
    layout = {"barmode": "stack", "title": {"text": title},
              "xaxis": {"title": {"text": "ms per sample"}, "range": [0, longest * 1.18 if longest > 0 else 1]},
              "yaxis": {"autorange": "reversed", "automargin": True},
              "legend": {"orientation": "v", "traceorder": "normal", "x": 1.01, "xanchor": "left", "y": 1,
                         "yanchor": "top"}}
    return {"data": data, "layout": layout}


def bars_height(rows: int) -> int:
    """Pixels for a stacked-bar figure of ``rows`` bars: the legend of nine categories fits beside even one."""
    return max(340, 240 + 34 * rows)


def roofline_points(table: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rows of roofline.csv (or roofline_measured.csv) that can sit on a log-log roofline:
    work, bytes and time all positive. None when there are none."""
    if table is None or table.empty:
        return None
    pts = table[(table["flops"] > 0) & (table["bytes"] > 0) & (table["time_s"] > 0)]
    return pts if len(pts) else None


def roofline(table: pd.DataFrame | None, ceilings: dict | None, measured: pd.DataFrame | None = None) -> Figure | None:
    """Log-log roofline: the memory slope and compute peaks of ``ceilings``, one marker per
    component and category (area ~ time per sample), and hollow diamonds for the points Nsight
    Compute measured, where a report was imported. None when no row has work to place."""
    pts, meas = roofline_points(table), roofline_points(measured)
    if pts is None and meas is None:
        return None
    both = [p for p in (pts, meas) if p is not None]
    xs = np.concatenate([p["intensity"].to_numpy(dtype=float) for p in both])
    ys = np.concatenate([p["achieved_flops_s"].to_numpy(dtype=float) for p in both])
    tmax = max(float(p["time_s"].max()) for p in both)
    lo, hi = max(float(xs.min()) / 10, 1e-3), float(xs.max()) * 10
    peaks = (ceilings or {}).get("peak_flops") or {}
    bw = (ceilings or {}).get("bandwidth_bytes_s")
    data: list[dict] = []
    if bw:
        top = max(peaks.values()) if peaks else float(ys.max()) * 10
        grid = np.logspace(math.log10(lo), math.log10(hi), 60)
        data.append({"type": "scatter", "mode": "lines", "x": grid.tolist(),
                     "y": np.minimum(grid * bw, top).tolist(), "line": {"color": "black", "width": 1.5},
                     "name": f"memory {bw / 1e9:.1f} GB/s", "hoverinfo": "name"})
    for i, (dtype, peak) in enumerate(sorted(peaks.items(), key=lambda kv: -kv[1])):
        data.append({"type": "scatter", "mode": "lines", "x": [lo, hi], "y": [peak, peak],
                     "line": {"color": "black", "width": 1.2, "dash": ["solid", "dash", "dot", "dashdot"][i % 4]},
                     "name": f"peak {dtype} {peak / 1e9:.1f} GFLOP/s", "hoverinfo": "name"})
    for frame, measured_ in ((pts, False), (meas, True)):
        if frame is None:
            continue
        for cat, grp in frame.groupby("category", sort=False):
            color = COLORS.get(str(cat), "#7f7f7f")
            name = LABELS.get(str(cat), str(cat)) + (" (Nsight Compute)" if measured_ else "")
            data.append(_points(grp, color, name, tmax, measured_))
    layout = {"title": {"text": "Roofline per component and category (marker area ~ time per sample; ceilings: "
                                f"{esc((ceilings or {}).get('source', 'none recorded'))})"},
              "xaxis": {"type": "log", "title": {"text": "operational intensity (FLOP / byte)"},
                        "range": [math.log10(lo), math.log10(hi)]},
              "yaxis": {"type": "log", "title": {"text": "achieved FLOP/s"}, "exponentformat": "SI"},
              "legend": {"x": 1.01, "xanchor": "left", "y": 1, "yanchor": "top"}}
    return {"data": data, "layout": layout}


def _points(grp: pd.DataFrame, color: str, name: str, tmax: float, measured: bool) -> dict:
    size = (8 + 32 * np.sqrt(grp["time_s"].to_numpy(dtype=float) / tmax)).tolist()   # area ~ time
    who = [f"{w}/{c}" for w, c in zip(grp["workload"], grp["component"])]
    marker = ({"symbol": "diamond-open", "color": color, "size": size, "line": {"width": 2}} if measured else
              {"color": color, "size": size, "opacity": 0.75, "line": {"color": "black", "width": 0.5}})
    return {"type": "scatter", "mode": "markers+text", "x": grp["intensity"].tolist(),
            "y": grp["achieved_flops_s"].tolist(), "name": name, "marker": marker, "text": who,
            "textposition": "top right", "textfont": {"size": 9},
            "customdata": [fmt_time(t) for t in grp["time_s"]],
            "hovertemplate": "%{text}<br>" + esc(name) + ": %{y:.3s}FLOP/s at %{x:.3g} FLOP/B, "
                             "%{customdata} per sample<extra></extra>"}
