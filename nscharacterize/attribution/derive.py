"""Everything a run directory holds that is computed from events and timings, in one call.

``run`` (in batches as samples finish, and at its end), ``report`` (a killed run's recovery,
``--reclassify``, and the views of a finished run) and ``import-trace`` all get their per-sample
times, breakdown, checks and the manifest's summary of them, and the views (system, neural and
symbolic sides, GPU summary, ranks, roofline) from here. The caller writes the frames
(nscharacterize/results.py); ``reports/`` only lays them out, so no number in a table or figure
is computed anywhere else, and a report drawn later from the run directory shows the numbers the
run derived.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .aggregate import attribute, breakdown
from .ranks import job_table, rank_table
from .roofline import roofline, torch_flops_agreement
from .system import side_split, system_view
from .views import gpu_summary


@dataclass
class Roofline:
    table: pd.DataFrame              # roofline.csv: per component and category, work against the ceilings
    unsized: pd.DataFrame            # the ops the cost model cannot size, with their share of op time
    torch_flops: pd.DataFrame | None  # torch.profiler's FLOPs beside the model's, per op name


@dataclass
class Views:
    system: pd.DataFrame             # system.csv: end to end, neural and symbolic sides, components
    sides: pd.DataFrame              # per workload: end to end, neural and symbolic time (system.side_split)
    gpu: pd.DataFrame                # per CUDA component: GPU busy share, launches, median kernel, verdict
    ranks: pd.DataFrame              # imported distributed traces: per rank communication and verdict
    jobs: pd.DataFrame               # across the ranks of a job: slowest step, straggler
    roofline: Roofline | None        # None: not derived (a run in progress) or no events to size


@dataclass
class Results:
    samples: pd.DataFrame            # samples.csv
    breakdown: pd.DataFrame          # breakdown.csv
    checks: pd.DataFrame             # checks.csv
    checks_summary: dict             # the manifest's ``checks``, from the same checks
    views: Views


def derive(events: pd.DataFrame, timings: pd.DataFrame, *, compensation: dict | None = None,
           ceilings: dict | None = None, with_roofline: bool = True) -> Results:
    """Attribution, breakdown, checks and the views of classified ``events`` and ``timings``.

    ``compensation`` and ``ceilings`` are the manifest's; ``with_roofline=False`` skips the
    roofline (sizing every op row), which a run in progress does not show."""
    attribution = attribute(events, timings, compensation)
    return derive_attributed(attribution.samples, attribution.checks, timings, len(events),
                             events=events, ceilings=ceilings, with_roofline=with_roofline)


def derive_attributed(samples: pd.DataFrame, checks: pd.DataFrame, timings: pd.DataFrame, event_rows: int, *,
                      events: pd.DataFrame | None = None, ceilings: dict | None = None,
                      with_roofline: bool = False) -> Results:
    """``derive`` from an attribution already made: a run attributes its samples in batches as
    they finish (``attribute`` per batch), so it never holds every event at once."""
    result = breakdown(samples)
    views = derive_views(samples, result, timings, events, ceilings, with_roofline=with_roofline)
    return Results(samples, result, checks, summarize_checks(checks, timings, event_rows), views)


def derive_views(samples: pd.DataFrame, result: pd.DataFrame, timings: pd.DataFrame, events: pd.DataFrame | None,
                 ceilings: dict | None, *, with_roofline: bool = True) -> Views:
    """The views of ``samples``, ``result`` (the breakdown) and ``timings``, and the roofline of
    ``events`` against ``result``; no roofline without events (a copied-out run), without
    breakdown rows, or with ``with_roofline=False``."""
    system = system_view(samples)
    ranks = rank_table(result, timings)
    roof = roofline_view(events, result, ceilings) if with_roofline else None
    return Views(system, side_split(system), gpu_summary(result, timings), ranks, job_table(ranks), roof)


def roofline_view(events: pd.DataFrame | None, result: pd.DataFrame, ceilings: dict | None) -> Roofline | None:
    """The roofline of ``events`` against the breakdown ``result``; None without events (a
    copied-out run) or without breakdown rows."""
    if events is None or result.empty:
        return None
    table, unsized = roofline(events, result, ceilings)
    return Roofline(table, unsized, torch_flops_agreement(events) if len(events) else None)


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
