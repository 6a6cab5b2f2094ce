"""Saving a run's derived results: one derive call (``attribution.derive``), written.

The one writer of samples.csv, breakdown.csv, checks.csv, system.csv, roofline.csv and the
manifest's ``checks``, shared by ``run`` (nscharacterize/pipeline.py), ``import-trace`` and
``report`` (a killed run's recovery, ``--reclassify``, and the views of a finished run). Drawing
what it wrote is ``reports.run_report``, which computes nothing.
"""
from __future__ import annotations

from dataclasses import replace

import pandas as pd

from nscharacterize.attribution.derive import Results, Views, derive, derive_attributed, derive_views, roofline_view
from nscharacterize.attribution.roofline import summed_batches
from nscharacterize.rundir import store
from nscharacterize.rundir.manifest import Manifest
from nscharacterize.rundir.store import RunDir
from nscharacterize.taxonomy.classifier import Taxonomy


def save_results(run: RunDir, events: pd.DataFrame, timings: pd.DataFrame, manifest: Manifest, *,
                 with_roofline: bool = True) -> Results:
    """Derives every table from classified ``events`` and ``timings`` and writes events, timings,
    samples, checks, breakdown, the views, and the manifest with its ``checks`` summary from the
    same checks (so the two never disagree)."""
    results = derive(events, timings, compensation=manifest.compensation, ceilings=manifest.ceilings,
                     with_roofline=with_roofline)
    run.write_parquet(store.EVENTS, events)
    run.write_csv(store.TIMINGS, timings)
    _save(run, results, manifest)
    return results


def save_attributed(run: RunDir, samples: pd.DataFrame, checks: pd.DataFrame, timings: pd.DataFrame,
                    manifest: Manifest, event_rows: int) -> Results:
    """``save_results`` from an attribution already made (a run attributes its samples in batches
    as they finish), without the roofline: a run in progress does not show it; its end does
    (``refresh_views``)."""
    results = derive_attributed(samples, checks, timings, event_rows)
    _save(run, results, manifest)
    return results


def _save(run: RunDir, results: Results, manifest: Manifest) -> None:
    run.write_csv(store.SAMPLES, results.samples)
    run.write_csv(store.CHECKS, results.checks)
    run.write_csv(store.BREAKDOWN, results.breakdown)
    manifest.checks = results.checks_summary
    run.write_manifest(manifest)
    save_views(run, results.views)


def save_views(run: RunDir, views: Views) -> None:
    """system.csv, and roofline.csv when the roofline was derived."""
    run.write_csv(store.SYSTEM, views.system)
    if views.roofline is not None:
        run.write_csv(store.ROOFLINE, views.roofline.table)


def refresh_views(run: RunDir, events: pd.DataFrame | None = None) -> Views:
    """The views of a saved run, roofline included, from its saved samples, breakdown, timings and
    events (``events`` when the caller has read them; else read here, when the run has them) and
    the manifest's ceilings; written and returned."""
    if events is None and has_events(run):
        events = run.events()
    views = derive_views(run.samples(), run.breakdown(), run.timings(), events, run.manifest.get("ceilings"))
    save_views(run, views)
    return views


def add_roofline(run: RunDir, views: Views, breakdown: pd.DataFrame, events: pd.DataFrame | None,
                 ceilings: dict | None) -> Views:
    """``views`` as a run derived them while saving its tables, with the roofline added and
    roofline.csv written: the run's end derives only what it has not derived yet (``refresh_views``
    reads every table back and derives them all, for a saved run)."""
    views = replace(views, roofline=roofline_view(events, breakdown, ceilings))
    if views.roofline is not None:
        run.write_csv(store.ROOFLINE, views.roofline.table)
    return views


def view_events(run: RunDir) -> pd.DataFrame | None:
    """The events the roofline and the page read, summed over samples as they are read
    (``roofline.summed_batches``: memory grows with the distinct ops, not the samples); None
    when the run has none (a copied-out run)."""
    return summed_batches(run.event_batches()) if has_events(run) else None


def has_events(run: RunDir) -> bool:
    """events.parquet, or the events log of a run in progress or killed."""
    return (run.path / store.EVENTS).is_file() or run.has_logs()


def reclassify(run: RunDir, taxonomy: Taxonomy) -> Results:
    """Re-derives every table of a saved run with ``taxonomy``'s rules, without re-profiling (the
    fingerprint's ``rules`` then names these)."""
    manifest = run.read_manifest()
    manifest.fingerprint["rules"] = taxonomy.digest
    return save_results(run, taxonomy.classify_events(run.events()), run.timings(), manifest)
