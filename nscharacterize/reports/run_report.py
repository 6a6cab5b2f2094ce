"""Draws a run directory's report: table.md and report.html (with its figures), and the PNG
figures where asked for.

Rendering only: every number comes from the saved tables or from the ``Views`` that
``nscharacterize.attribution.derive`` computed (and nscharacterize/results.py wrote), so a
report is the same whether it is drawn by the run that measured it or later by ``report``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from nscharacterize.attribution.derive import Views
from nscharacterize.rundir import store
from nscharacterize.rundir.store import RunDir, SavedTables

from . import metrics_report
from .roofline_report import write_roofline
from .system_report import system_markdown
from .tables import markdown_report


def render_tables(run: RunDir, views: Views) -> list[Path]:
    """The cheap part of ``render``, rewritten after each workload of a run in progress: table.md
    without the roofline section. The roofline and report.html are drawn once, when the run ends
    or stops, and by ``nscharacterize report``; what they show is in the tables either way."""
    result, _manifest, text = _tables(run, views, run.saved_tables())
    if not result.empty:
        text = text.rstrip("\n") + "\n\n" + IN_PROGRESS + "\n"
    return [run.write_text(store.TABLE, text)]


# Where table.md's roofline section will be while a run is still going (render_tables).
IN_PROGRESS = ("## Roofline\n\nThe run is still going: the roofline section and report.html are "
               "written when it ends (or by `nscharacterize report RUN_DIR`).")


def _tables(run: RunDir, views: Views, saved: SavedTables) -> tuple[pd.DataFrame, dict, str]:
    """The breakdown, manifest and table.md's text up to the roofline section."""
    (result, timings, checks), manifest = saved, run.manifest
    text = markdown_report(result, timings, checks, manifest, views) + "\n" + system_markdown(views.system, views.sides)
    beyond_time = metrics_report.markdown(run)
    return result, manifest, text + ("\n" + beyond_time if beyond_time else "")


def render(run: RunDir, views: Views, events: pd.DataFrame | None = None, *, png: bool = False) -> list[Path]:
    """Writes table.md and report.html from the saved breakdown, timings, checks and manifest and
    the derived ``views``; with ``png``, also the figures as PNG files (matplotlib: seconds per run,
    so only when asked; report.html draws its own). ``events``: the run's events when the caller
    has read them already (the page's classification section needs them), else read there."""
    from .html_run import write_run_report

    saved = run.saved_tables()   # read once, for table.md and the page
    result, manifest, text = _tables(run, views, saved)
    roofline_files: list[Path] = []
    if not result.empty:   # the roofline section (and roofline.png)
        section, roofline_files = write_roofline(run, views.roofline, manifest, png=png)
        text = text.rstrip("\n") + "\n\n" + section
    written = [run.write_text(store.TABLE, text), *roofline_files]
    if png and not result.empty:
        written += _pngs(run, result, views)
    return written + [write_run_report(run, views, events, saved)]


def prepare() -> None:
    """What ``render`` imports and reads where it is used (the page's modules and libraries), done
    ahead: for a caller with idle time before it renders (import-trace, while its first file decodes)."""
    from . import html, html_run  # noqa: F401

    html.prepare()


def _pngs(run: RunDir, result: pd.DataFrame, views: Views) -> list[Path]:
    """heatmap.png, breakdown.png, python_breakdown.png (cProfile components) and system.png."""
    from . import plots
    from .system_report import system_figure

    written = []
    for name, fig in ((store.HEATMAP, plots.heatmap(result)), (store.BARS, plots.stacked_bars(result)),
                      (store.PYTHON_PLOT, plots.python_breakdown(result)), (store.SYSTEM_PLOT, system_figure(views.system))):
        if fig is not None:
            written.append(run.write_figure(name, fig))
            plots.close(fig)
    return written


def stale_pngs(run: RunDir) -> list[Path]:
    """PNG figures an earlier ``--png`` drew, which a report drawn without it would leave out of date."""
    return [run.path / n for n in store.PNG_FIGURES if (run.path / n).is_file()]
