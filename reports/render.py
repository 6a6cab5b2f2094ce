"""Writes the derived files of a run directory; everything here can be redone from the run alone."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from nscharacterize.taxonomy.classifier import Taxonomy

from . import plots, store
from .aggregate import attribute, breakdown
from .store import RunDir
from .tables import markdown_report


def write_results(run: RunDir, events: pd.DataFrame, timings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attributes time from classified ``events`` and writes events, timings, samples, breakdown and
    checks. Returns the breakdown and the per-sample checks."""
    attribution = attribute(events, timings)
    result = breakdown(attribution.samples)
    run.write_parquet(store.EVENTS, events)
    run.write_csv(store.TIMINGS, timings)
    run.write_csv(store.SAMPLES, attribution.samples)
    run.write_csv(store.CHECKS, attribution.checks)
    run.write_csv(store.BREAKDOWN, result)
    return result, attribution.checks


def reclassify(run: RunDir, taxonomy: Taxonomy) -> pd.DataFrame:
    """Re-derives every table of a saved run with the current rules, without re-profiling."""
    return write_results(run, taxonomy.classify_events(run.events()), run.timings())[0]


def render(run: RunDir) -> list[Path]:
    """Writes table.md and the figures from the saved breakdown, timings, checks and manifest."""
    result, timings, checks, manifest = run.breakdown(), run.timings(), run.checks(), run.manifest
    written = [run.write_text(store.TABLE, markdown_report(result, timings, checks, manifest))]
    if result.empty:
        return written
    for name, make in ((store.HEATMAP, plots.heatmap), (store.BARS, plots.stacked_bars),
                       (store.PYTHON_PLOT, plots.python_breakdown)):
        fig = make(result)
        if fig is not None:
            written.append(run.write_figure(name, fig))
            plots.close(fig)
    return written
