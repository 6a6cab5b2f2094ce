"""The roofline in a run's report: the table.md section, and roofline.png when PNGs are asked for.

Where ``nscharacterize ncu-import`` has left roofline_measured.csv (Nsight Compute's counts per
component and category, attribution/measured.py), the section compares them with the modelled rows
and the figure draws them as hollow diamonds beside the modelled markers.

The numbers come from ``nscharacterize.attribution.derive`` (the roofline of the saved events
against the manifest's ``ceilings``, written to roofline.csv by nscharacterize/results.py), so
``nscharacterize report`` redraws it from the run directory alone; this module only lays it out.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from nscharacterize.attribution.measured import COLUMNS as MEASURED_COLUMNS
from nscharacterize.attribution.derive import Roofline
from nscharacterize.attribution.roofline import UNSIZED_COLUMNS
from nscharacterize.taxonomy.categories import COLORS, LABELS

from nscharacterize.rundir import store
from .format import fmt_time, markdown_table
from .page_figures import roofline_points
from nscharacterize.rundir.store import RunDir

_MAX_UNSIZED_LISTED = 25


def write_roofline(run: RunDir, roofline: Roofline | None, manifest: dict, *, png: bool = False
                   ) -> tuple[str, list[Path]]:
    """Returns the Markdown section for table.md and the files written: roofline.png where ``png``
    asks for it (report.html draws its own). ``roofline`` is None without events (a copied-out
    run): nothing to size, the section says so and nothing is drawn."""
    if roofline is None:
        return "## Roofline\n\nNo events.parquet in this run directory: the roofline needs it.\n", []
    ceilings = manifest.get("ceilings")
    written = []
    measured = read_measured(run)
    fig = plot(roofline.table, ceilings, measured) if png else None
    if fig is not None:
        from .plots import close

        written.append(run.write_figure(store.ROOFLINE_PLOT, fig))
        close(fig)
    return section(roofline.table, roofline.unsized, ceilings, roofline.torch_flops, manifest, measured), written


def read_measured(run: RunDir) -> pd.DataFrame | None:
    """roofline_measured.csv, or None where no Nsight Compute report was imported."""
    path = run.path / store.ROOFLINE_MEASURED
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise store.RunDirError(path, "", f"unreadable CSV ({type(exc).__name__})",
                                "import the Nsight Compute report again (nscharacterize ncu-import)") from None
    missing = [c for c in MEASURED_COLUMNS if c not in frame.columns]
    if missing:
        raise store.RunDirError(path, missing[0], "column missing",
                                "import the Nsight Compute report again (nscharacterize ncu-import)")
    return frame


def _g(x: float, scale: float = 1e9, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x / scale:.{digits}g}"


def _pct(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def ceilings_line(ceilings: dict | None, manifest: dict | None = None) -> str:
    if not ceilings:
        fp = (manifest or {}).get("fingerprint") or {}
        if fp.get("imported") and len(fp.get("device_names") or ()) > 1:
            why = (f"the traces come from {len(fp['device_names'])} different GPUs ({', '.join(fp['device_names'])}), "
                   "and one roofline holds one machine's ceilings: import each GPU's traces apart for bounds")
        elif fp.get("imported"):
            why = (f"the trace's GPU ({fp['device_name']}) is not in the datasheet table" if fp.get("device_name")
                   and fp.get("device") == "cuda" else
                   "an imported trace does not record the peaks of the machine that recorded it, and that "
                   "machine is not here to measure")
        else:
            why = ("the run was stopped before they were measured, the measurement failed (see run.log), "
                   "or the run comes from a version that did not measure them")
        return f"No machine ceilings ({why}): bounds and fractions of bound are empty."
    peaks = ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in (ceilings.get("peak_flops") or {}).items())
    bw = ceilings.get("bandwidth_bytes_s")
    where = ceilings.get("device_name") or ceilings.get("device", "")
    if ceilings.get("source") == "datasheet":
        how = f"datasheet peaks of {ceilings.get('datasheet_entry', where)}, not measured (the device was not present)"
    else:
        threads = ceilings.get("threads")
        how = f"measured on {where} ({ceilings.get('device')}, {threads} thread{'' if threads == 1 else 's'})"
    return f"Ceilings ({how}): peak {peaks}; memory bandwidth {bw / 1e9:.1f} GB/s." if bw else \
        f"Ceilings ({how}): peak {peaks}."


def section(table: pd.DataFrame, unsized: pd.DataFrame, ceilings: dict | None,
            agreement: pd.DataFrame | None, manifest: dict | None = None,
            measured: pd.DataFrame | None = None) -> str:
    out = ["## Roofline", "", ceilings_line(ceilings, manifest), "",
           "Per component and category, mean per sample: work from the op cost model, time as in the table "
           "above. *Bound* is the roofline at the row's intensity; *% of bound* is the shortest time the ceilings "
           "allow for this work over the time taken; *unsized* is the share of the category's op time in ops the "
           "model cannot size (listed below); *T&S* is the share of GEMM time in tall-and-skinny products "
           "(min(m, n, k) <= 16). Columns: roofline.csv; figure: report.html, section Roofline.", ""]
    if table.empty:
        return "\n".join(out + ["No op rows to put on the roofline.", ""] + _measured_section(table, measured))
    header = ["Workload", "Component", "Category", "Time", "GFLOP", "MB", "FLOP/B", "GFLOP/s", "GB/s",
              "Bound GFLOP/s", "% of bound", "Bound by", "Unsized", "T&S"]
    rows = [[r.workload, r.component, LABELS.get(r.category, r.category), fmt_time(r.time_s), _g(r.flops),
             _g(r.bytes, 1e6), _g(r.intensity, 1.0), _g(r.achieved_flops_s), _g(r.achieved_bytes_s),
             _g(r.bound_flops_s), _pct(r.fraction_of_bound), r.bound or "-", _pct(r.unsized_share),
             _pct(r.tall_skinny_share) if r.category == "gemm" else ""]
            for r in table.itertuples(index=False)]
    out += [markdown_table(header, rows), ""]
    out += _unsized_section(unsized)
    out += _measured_section(table, measured)
    if agreement is not None and len(agreement):
        out += ["### FLOPs: torch.profiler's estimate against the model", "",
                "Products and convolutions must agree (ratio 1). For add and mul torch counts the first "
                "operand's elements and the model the output's: they differ where the first operand is "
                "broadcast.", "",
                markdown_table(["Op", "Calls (all samples)", "torch GFLOP", "model GFLOP", "model / torch"],
                               [[r.name, int(r.calls), _g(r.torch_flops), _g(r.model_flops),
                                 "-" if r.ratio != r.ratio else f"{r.ratio:.4f}"]
                                for r in agreement.itertuples(index=False)]), ""]
    return "\n".join(out)


def _measured_section(table: pd.DataFrame, measured: pd.DataFrame | None) -> list[str]:
    """Nsight Compute's counts beside the model's, per component and category (roofline_measured.csv)."""
    if measured is None or measured.empty:
        return []
    keys = ["workload", "component", "category"]
    model = table[keys + ["flops", "bytes", "time_s"]] if len(table) else pd.DataFrame(columns=keys + ["flops", "bytes", "time_s"])
    both = measured.astype({k: str for k in keys}).merge(model.astype({k: str for k in keys}), on=keys, how="left", suffixes=("", "_model"))
    source = ", ".join(sorted(set(measured["source"].astype(str)))) or "?"
    lines = ["### Measured with Nsight Compute", "",
             f"From {source} (nscharacterize ncu-import), per pass of each component: kernel time, DRAM bytes "
             "and FLOPs counted by the hardware (SASS add, mul and 2 x fma; tensor-core work is not in them), "
             "beside the model's work and the profiled time above. DRAM bytes are what reached memory, the model's "
             "bytes what the ops touch: caches make the first smaller. *Via*: how each kernel got its category "
             "(run: as this run attributed it; kernel rule: its name; none: Other). Columns: "
             "roofline_measured.csv; figure: hollow diamonds in report.html's roofline.", ""]
    header = ["Workload", "Component", "Category", "Kernels", "Kernel time", "GFLOP", "model GFLOP", "DRAM MB",
              "model MB", "FLOP/B", "GFLOP/s", "SM %", "Via"]
    rows = [[r.workload, r.component, LABELS.get(r.category, r.category), f"{r.kernels:.3g}", fmt_time(r.time_s),
             _g(r.flops), _g(r.flops_model), _g(r.bytes, 1e6), _g(r.bytes_model, 1e6), _g(r.intensity, 1.0),
             _g(r.achieved_flops_s), "-" if r.sm_pct != r.sm_pct else f"{r.sm_pct:.1f}", r.category_via]
            for r in both.itertuples(index=False)]
    return lines + [markdown_table(header, rows), ""]


def _unsized_section(unsized: pd.DataFrame) -> list[str]:
    if unsized.empty:
        return ["Every op with time in these categories was sized by the model.", ""]
    names = unsized.groupby("name").agg(calls=("calls", "sum"), components=("component", "nunique"),
                                        reason=("reason", "first"), worst=("time_share", "max"))
    # largest share first; ops whose shares differ only past what is shown (0.1 %) by name
    names = names.iloc[np.argsort(-names["worst"].round(4).to_numpy(), kind="stable")]
    shown = names.head(_MAX_UNSIZED_LISTED)
    lines = [f"### Ops the model cannot size ({len(names)} distinct)", "",
             markdown_table(["Op", "Calls per sample", "Components", "Largest share of its category's op time",
                             "Why"],
                            [[n, int(r.calls), int(r.components), _pct(r.worst), r.reason]
                             for n, r in shown.iterrows()])]
    if len(names) > len(shown):
        lines.append(f"\n... and {len(names) - len(shown)} more.")
    return lines + [""]


def plot(table: pd.DataFrame, ceilings: dict | None, measured: pd.DataFrame | None = None):
    """Log-log roofline: the ceilings, one marker per component and category sized by time, and
    (hollow diamonds) the points Nsight Compute measured, where a report was imported."""
    from .plots import FIGURE_DPI, plt

    found, meas = roofline_points(table), roofline_points(measured)
    if found is None and meas is None:
        return None
    pts = found if found is not None else table.iloc[:0]
    fig, ax = plt.subplots(figsize=(9, 6), dpi=FIGURE_DPI)
    both = [pts] + ([meas] if meas is not None else [])
    xs = np.concatenate([p["intensity"].to_numpy(dtype=float) for p in both])
    ys = np.concatenate([p["achieved_flops_s"].to_numpy(dtype=float) for p in both])
    lo, hi = max(xs.min() / 10, 1e-3), xs.max() * 10
    peaks = (ceilings or {}).get("peak_flops") or {}
    bw = (ceilings or {}).get("bandwidth_bytes_s")
    grid = np.logspace(math.log10(lo), math.log10(hi), 200)
    if bw:
        top = max(peaks.values()) if peaks else float(ys.max()) * 10
        ax.plot(grid, np.minimum(grid * bw, top), color="black", lw=1.5,
                label=f"memory {bw / 1e9:.1f} GB/s")
    for i, (dtype, peak) in enumerate(sorted(peaks.items(), key=lambda kv: -kv[1])):
        ax.axhline(peak, color="black", lw=1.2, ls=["-", "--", ":", "-."][i % 4],
                   label=f"peak {dtype} {peak / 1e9:.1f} GFLOP/s")
    tmax = float(max(p["time_s"].max() for p in both if len(p)))
    if meas is not None and len(meas):
        modelled = set(pts["category"]) if len(pts) else set()
        for cat, grp in meas.groupby("category", sort=False):
            ax.scatter(grp["intensity"], grp["achieved_flops_s"], s=30 + 600 * grp["time_s"] / tmax, marker="D",
                       facecolors="none", edgecolors=COLORS.get(cat, "#7f7f7f"), linewidths=1.5,
                       label=None if cat in modelled else f"{LABELS.get(cat, cat)} (measured only)")
            for r in grp.itertuples(index=False):
                ax.annotate(f"{r.workload}/{r.component} (ncu)", (r.intensity, r.achieved_flops_s), fontsize=6,
                            xytext=(3, -8), textcoords="offset points")
        ax.scatter([], [], s=40, marker="D", facecolors="none", edgecolors="#555555", linewidths=1.5,
                   label="measured (Nsight Compute), colour = category")
    for cat, grp in pts.groupby("category", sort=False):
        ax.scatter(grp["intensity"], grp["achieved_flops_s"], s=30 + 600 * grp["time_s"] / tmax,
                   color=COLORS.get(cat, "#7f7f7f"), alpha=0.7, edgecolors="black", linewidths=0.5,
                   label=LABELS.get(cat, cat))
        for r in grp.itertuples(index=False):
            ax.annotate(f"{r.workload}/{r.component}", (r.intensity, r.achieved_flops_s), fontsize=6,
                        xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("operational intensity (FLOP / byte)")
    ax.set_ylabel("achieved FLOP/s")
    src = (ceilings or {}).get("source", "no ceilings recorded")
    ax.set_title(f"Roofline per component and category (marker area ~ time; ceilings: {src})")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, which="both", alpha=0.2)
    fig.tight_layout()
    return fig


__all__ = ["write_roofline", "section", "plot", "UNSIZED_COLUMNS"]
