"""``nscharacterize ncu-import``: an Nsight Compute CSV export merged into a run directory as
measured roofline points (roofline_measured.csv), then the run re-rendered so table.md, the
roofline figure and report.html show them beside the modelled ones.

The run must be finished (its files are rewritten); the report should come from the same config
run under ``ncu`` with ``--nvtx`` (docs/guide/metrics.md). A report without the project's NVTX
ranges can be given to one component whole with ``component``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nscharacterize.attribution.measured import measured_points, run_kernel_categories
from nscharacterize.core.errors import UserError
from nscharacterize.profiler.ncu_report import read_ncu_csv
from nscharacterize.reports.run_report import render
from nscharacterize.rundir import store
from nscharacterize.rundir.store import MANIFEST, RunDir, RunDirError, effective_status
from nscharacterize.taxonomy.classifier import Taxonomy

from .results import has_events, refresh_views


@dataclass
class NcuImport:
    path: Path                 # roofline_measured.csv
    table: pd.DataFrame
    notes: dict
    written: list[Path]


def import_ncu(report: str | Path, run_dir: str | Path, rules: dict | None = None, component: str | None = None,
               passes: int = 1, include_warmup: bool = False) -> NcuImport:
    """``component``: ``WORKLOAD/COMPONENT`` that gets every launch outside the project's ranges
    (a report collected without ``--nvtx``), counted as ``passes`` passes."""
    run = RunDir(run_dir)
    manifest = run.manifest
    if effective_status(manifest) == "running":
        raise RunDirError(run.path / MANIFEST, "status", f"the run is still being written (pid {manifest.get('pid')})",
                          "wait for it to finish, then import the report")
    if passes < 1:
        raise UserError(None, "--passes", f"must be 1 or more, not {passes}", "give how many passes the report holds")
    timings = run.timings()
    components = list(dict.fromkeys(zip(timings["workload"].astype(str), timings["component"].astype(str))))
    assign = _component(component, components) if component else None
    kernels = read_ncu_csv(report)
    taxonomy = Taxonomy(rules or {})
    events = run.events() if has_events(run) else None
    table, notes = measured_points(kernels, components, lambda name: taxonomy.classify("kernel", name).category,
                                   run_kernel_categories(events), assign=assign, passes=passes,
                                   include_warmup=include_warmup, source=Path(report).name)
    if table.empty:
        raise UserError(report, None, f"none of its {notes['launches']} kernel launches ran in a component of "
                        f"this run ({notes['outside_ranges']} outside any nsc| NVTX range, {notes['warmup']} in "
                        f"warm-up passes, ranges of other runs: {', '.join(notes['unknown_ranges']) or 'none'})",
                        "profile this run's config under ncu with `run --nvtx` and ncu --nvtx, or give "
                        "--component WORKLOAD/COMPONENT for a report without ranges")
    path = run.write_csv(store.ROOFLINE_MEASURED, table)
    written = render(run, refresh_views(run, events), events)
    return NcuImport(path, table, notes, written)


def _component(text: str, components: list[tuple[str, str]]) -> tuple[str, str]:
    workload, sep, comp = text.partition("/")
    if not sep or (workload, comp) not in components:
        known = ", ".join(f"{w}/{c}" for w, c in components)
        raise UserError(None, "--component", f"{text!r} is not a component of this run", f"give one of: {known}")
    return workload, comp
