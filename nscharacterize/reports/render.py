"""Writes the derived files of a run directory; everything here can be redone from the run alone."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from nscharacterize.taxonomy.classifier import Taxonomy

from nscharacterize.rundir import store
from . import metrics_report, plots
from nscharacterize.attribution.aggregate import attribute, breakdown
from nscharacterize.attribution.system import system_view
from .roofline_report import has_events, write_roofline
from nscharacterize.rundir.store import RunDir
from .system_report import system_figure, system_markdown
from .tables import markdown_report


def write_results(run: RunDir, events: pd.DataFrame, timings: pd.DataFrame, manifest: dict) -> pd.DataFrame:
    """Attributes time from classified ``events``; writes events, timings, samples, breakdown and
    checks, and the manifest with its ``checks`` summary recomputed from the same checks, so the
    two never disagree. Returns the breakdown."""
    attribution = attribute(events, timings, manifest.get("compensation"))
    run.write_parquet(store.EVENTS, events)
    run.write_csv(store.TIMINGS, timings)
    return write_derived(run, attribution.samples, attribution.checks, timings, manifest, len(events))


def write_derived(run: RunDir, samples: pd.DataFrame, checks: pd.DataFrame, timings: pd.DataFrame,
                  manifest: dict, event_rows: int) -> pd.DataFrame:
    """samples, checks and breakdown from an attribution already made (a run attributes its
    samples in batches as they finish, so it never holds every event), and the manifest with the
    ``checks`` summary of those same checks. Returns the breakdown."""
    result = breakdown(samples)
    run.write_csv(store.SAMPLES, samples)
    run.write_csv(store.CHECKS, checks)
    run.write_csv(store.BREAKDOWN, result)
    manifest["checks"] = summarize_checks(checks, timings, event_rows)
    run.write_json(store.MANIFEST, manifest)
    return result


def reclassify(run: RunDir, taxonomy: Taxonomy) -> pd.DataFrame:
    """Re-derives every table of a saved run with the current rules, without re-profiling."""
    return write_results(run, taxonomy.classify_events(run.events()), run.timings(), run.manifest)


def summarize_checks(checks: pd.DataFrame, timings: pd.DataFrame, event_rows: int) -> dict:
    """The add-up invariant and the overhead factor, per component, for the manifest."""
    if checks.empty:
        return {"addup_ok": True, "components": []}
    rel = checks["addup_error_s"] / checks["wall_s"].where(checks["wall_s"] > 0)
    comps = []
    for (w, c), grp in timings.groupby(["workload", "component"], sort=False):
        sel = (checks["workload"] == w) & (checks["component"] == c)
        comps.append({"workload": w, "component": c, "wall_s": float(grp["wall_s"].mean()),
                      "overhead": _or_none(grp["overhead"].mean()),
                      "max_addup_error_s": float(checks.loc[sel, "addup_error_s"].max()),
                      "clamped_samples": int(checks.loc[sel, "clamped"].sum()),
                      "peak_mem_bytes": _or_none(grp["peak_mem_bytes"].max())})
    max_rel = float(rel.max()) if rel.notna().any() else 0.0
    return {"addup_ok": bool(max_rel < 1e-6), "max_addup_rel_error": max_rel,
            "event_rows": int(event_rows), "components": comps}


def _or_none(value) -> float | None:
    """JSON has no NaN: an unmeasured value is null."""
    value = float(value)
    return None if value != value else value


def render_tables(run: RunDir) -> list[Path]:
    """The cheap part of ``render``, rewritten after each workload of a run in progress: system.csv
    and table.md without the roofline section. The roofline, the figures and report.html take
    seconds each (matplotlib layout, plotly), so they are drawn once, when the run ends or stops,
    and by ``nscharacterize report``; what they show is in the tables either way."""
    result, manifest, system, text = _tables(run)
    if not result.empty:
        text = text.rstrip("\n") + "\n\n" + IN_PROGRESS + "\n"
    return [run.write_csv(store.SYSTEM, system), run.write_text(store.TABLE, text)]


# Where table.md's roofline section will be while a run is still going (render_tables).
IN_PROGRESS = ("## Roofline\n\nThe run is still going: the roofline section, the figures and report.html are "
               "written when it ends (or by `nscharacterize report RUN_DIR`).")


def _tables(run: RunDir) -> tuple[pd.DataFrame, dict, pd.DataFrame, str]:
    """The breakdown, manifest, system view and table.md's text up to the roofline section."""
    result, timings, checks, manifest = run.breakdown(), run.timings(), run.checks(), run.manifest
    system = system_view(run.samples())
    text = markdown_report(result, timings, checks, manifest) + "\n" + system_markdown(system)
    beyond_time = metrics_report.markdown(run)
    return result, manifest, system, text + ("\n" + beyond_time if beyond_time else "")


def render(run: RunDir) -> list[Path]:
    """Writes table.md, the figures and report.html from the saved breakdown, timings, checks and
    manifest."""
    from .html_run import write_run_report

    result, manifest, system, text = _tables(run)
    events = run.events() if has_events(run) else None   # read once, for the roofline and the page
    roofline_files: list[Path] = []
    if not result.empty:   # the roofline section, roofline.csv and roofline.png
        section, roofline_files = write_roofline(run, result, manifest, events)
        text = text.rstrip("\n") + "\n\n" + section
    written = [run.write_csv(store.SYSTEM, system), run.write_text(store.TABLE, text), *roofline_files]
    if result.empty:
        return written + [write_run_report(run, events)]
    for name, make, data in ((store.HEATMAP, plots.heatmap, result), (store.BARS, plots.stacked_bars, result),
                             (store.PYTHON_PLOT, plots.python_breakdown, result),
                             (store.SYSTEM_PLOT, system_figure, system)):
        fig = make(data)
        if fig is not None:
            written.append(run.write_figure(name, fig))
            plots.close(fig)
    written.append(write_run_report(run, events))
    return written
