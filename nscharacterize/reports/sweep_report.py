"""A sweep directory's report: table.md, scaling.png and report.html, drawn from the scaling table
the app layer derived (``sweep.report_sweep``: ``attribution.scaling`` over the points that
finished) and wrote as scaling.csv; this module computes nothing."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from nscharacterize.core.fileio import atomic_write, atomic_write_text
from nscharacterize.taxonomy.categories import COLORS, LABELS

from nscharacterize.rundir import store
from .format import fmt_time, markdown_table
from nscharacterize.rundir.store import RunDirError

SIDE_COLORS = {"neural": "#1f77b4", "symbolic": "#d62728"}
MIN_SHARE = 0.02   # categories below this share of the component at every point are left off the figure


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _PointRecord(_Loose):
    model_config = ConfigDict(extra="allow", strict=True, regex_engine="python-re")

    name: str
    params: dict
    status: str
    # a point's run directory lies in points/ of this sweep, nowhere else
    run_dir: Annotated[str, StringConstraints(pattern=rf"^{store.SWEEP_POINTS}/(?!\.\.?$)[^/\\]+$")] | None = None
    attempts: int = 0
    seconds: float | int | None = None
    error: str | None = None


class _SweepManifest(_Loose):
    """What the sweep's report reads from sweep.json; each is checked before any is used."""

    kind: Literal["sweep"]
    name: str = ""
    parameters: dict
    mode: str | None = None
    x: str
    status: str
    points: list[_PointRecord]


def split(text: str) -> np.ndarray:
    """The inverse of scaling.csv's ';'-joined columns (``attribution.scaling`` joins them)."""
    if not isinstance(text, str) or not text:
        return np.array([])
    return np.array([float(v) for v in text.split(";")])


def load_sweep(sweep_dir: str | Path) -> dict:
    path = Path(sweep_dir) / store.SWEEP_MANIFEST
    if not path.is_file():
        raise RunDirError(path, "", "missing; not a sweep directory", "give a folder written by 'nscharacterize sweep'")
    data = store.read_json(path)
    if not isinstance(data, dict) or data.get("kind") != "sweep" or not isinstance(data.get("points"), list):
        raise RunDirError(path, "kind", "not a sweep manifest", "give a folder written by 'nscharacterize sweep'")
    try:
        _SweepManifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        what = "required field is missing" if err["type"] == "missing" else err["msg"].lower()
        raise RunDirError(path, key, what, "the sweep manifest is damaged; re-run the sweep") from None
    return data


def render_sweep(sweep_dir: str | Path, manifest: dict, table: pd.DataFrame) -> list[Path]:
    """table.md, scaling.png and report.html of a sweep from its manifest and its scaling table
    (scaling.csv, as ``sweep.report_sweep`` derived it)."""
    sweep_dir = Path(sweep_dir)
    written = [atomic_write_text(sweep_dir / store.TABLE, sweep_markdown(manifest, table))]
    fig = scaling_figure(table)
    if fig is not None:
        import matplotlib.pyplot as plt

        written.append(atomic_write(sweep_dir / store.SCALING_PLOT,
                                    lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")))
        plt.close(fig)
    from .html_sweep import write_sweep_report

    written.append(write_sweep_report(sweep_dir, manifest, table))
    return written


def sweep_markdown(manifest: dict, table: pd.DataFrame) -> str:
    x = manifest["x"]
    out = [f"# nscharacterize sweep: {manifest.get('name', '')}", "",
           f"Parameters: {', '.join(f'{k} = {v}' for k, v in manifest['parameters'].items())} ({manifest.get('mode')}); "
           f"executor: {manifest.get('executor')}; status: {manifest.get('status')}.", "",
           "## Points", "",
           markdown_table(["Point", "Status", "Attempts", "Seconds", "Run directory", "Error"],
                          [[p["name"], p["status"], str(p.get("attempts", "")), str(p.get("seconds") or "-"),
                            p.get("run_dir") or "-", (p.get("error") or "")[:120]] for p in manifest["points"]]), ""]
    if table.empty:
        out += ["No finished point has per-sample times to fit yet.", ""]
        return "\n".join(out)
    out += [f"## Scaling: time = a * {x}^b (least squares on log-log axes; b's {95}% interval from a bootstrap "
            "over per-sample times; R^2 on log-log)", ""]
    rows = []
    for r in table.itertuples():
        if r.axis == "category" and not (split(r.mean_s) > 0).any():
            continue
        label = "Total" if r.axis == "total" else LABELS.get(r.category, r.category)
        means = split(r.mean_s)
        rows.append([r.workload, r.component, label, r.others or "-", str(r.n_points),
                     " / ".join(fmt_time(v) for v in means), _num(r.b), f"[{_num(r.b_lo)}, {_num(r.b_hi)}]",
                     _num(r.r2), r.note if isinstance(r.note, str) else ""])
    out += [markdown_table(["Workload", "Component", "Category", "Other parameters", "Points",
                            f"Mean time at {x} = " + " / ".join(f"{v:g}" for v in split(table['x'].iloc[0])),
                            "b", "95% CI", "R^2", "Note"], rows), ""]
    return "\n".join(out)


def _num(v: float) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"


def _swept_ticks(ax, part: pd.DataFrame) -> None:
    """x ticks at the swept values, written as plain numbers (``12``, not ``6x10^0`` or nothing)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    swept = sorted({float(v) for x in part["x"] for v in split(x)})
    if swept:
        ax.xaxis.set_major_locator(FixedLocator(swept))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))


def scaling_figure(table: pd.DataFrame):
    """Log-log panels, one per (workload, component): measured means with spread, fitted lines."""
    if table.empty:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys(zip(table["workload"], table["component"], table["others"])))
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.9 * rows), squeeze=False)
    for ax, (w, c, o) in zip(axes.flat, panels):
        part = table[(table["workload"] == w) & (table["component"] == c) & (table["others"] == o)]
        total = part[part["axis"] == "total"]
        total_means = split(total["mean_s"].iloc[0]) if len(total) else None
        for r in part.itertuples():
            xs, means, stds = split(r.x), split(r.mean_s), split(r.std_s)
            if r.axis == "category":
                if total_means is None or not (means >= MIN_SHARE * total_means).any():
                    continue
                color, label, style = COLORS[r.category], LABELS[r.category], "o"
            elif r.axis == "kind":   # a workload's neural or symbolic side, summed over its components
                color, label, style = SIDE_COLORS.get(r.category, "grey"), f"{r.category} side", "D"
            else:
                color, label, style = "black", "Total", "s"
            ok = means > 0
            if ok.sum() == 0:
                continue
            lower = np.minimum(stds[ok], means[ok] * 0.999)
            ax.errorbar(xs[ok], means[ok], yerr=[lower, stds[ok]], fmt=style, color=color, ms=4, capsize=2,
                        label=f"{label} (b={r.b:.2f})" if not math.isnan(r.b) else label)
            if not math.isnan(r.b):
                grid = np.geomspace(xs[ok].min(), xs[ok].max(), 20)
                ax.plot(grid, r.a * grid ** r.b, "--", color=color, lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _swept_ticks(ax, part)
        ax.set_title(f"{w} / {c}" + (f" ({o})" if o else ""), fontsize="small")
        ax.set_xlabel(f"{table['parameter'].iloc[0]} (swept; log scale)")
        ax.set_ylabel("time per sample (s)")
        ax.legend(fontsize="x-small", frameon=False)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle("Scaling by category (log-log; dashed: fitted power law)")
    fig.tight_layout()
    return fig
