"""What a newcomer reads (issue 26): report.html leads with the end-to-end answer and shows the
roofline; tables print readable numbers; an imported CPU trace says what it does not record; the
figures' labels do not collide."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from faults import cli


# ---- 2. the page leads with the headline ----------------------------------------------------------------
def test_report_html_leads_with_end_to_end_and_has_the_roofline(demo_run):
    page = (demo_run / "report.html").read_text()
    assert (page.index('id="overview"') < page.index('id="end-to-end"') < page.index('id="axis-category"')
            < page.index('id="roofline"'))
    assert "neural : symbolic = " in page and "per sample end to end" in page
    assert "Per component and category, mean per sample (roofline.csv)" in page


def test_data_tables_print_floats_to_four_significant_digits():
    from nscharacterize.reports.html import table

    html = table(pd.DataFrame({"t": [0.00014443283538894, 123456.789, 2.0]}), "numbers")
    assert "0.00014443283538894" not in html and "0.0001444" in html and "123457" in html
    assert "isNaN" not in html
    html = table(pd.DataFrame({"t": [1.5, float("nan")]}), "unknown")   # shown as "-", not "NaN"
    assert "Number.isNaN(data)) ? '-'" in html


# ---- 4. an imported CPU trace reads right --------------------------------------------------------------
@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    """A real CPU trace of a small model (torch.profiler, no memory records), imported by the CLI."""
    import torch

    tmp = tmp_path_factory.mktemp("imported")
    model = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True) as prof:
        with torch.no_grad():
            for _ in range(3):
                model(torch.randn(16, 32))
    trace = tmp / "mine.json"
    prof.export_chrome_trace(str(trace))
    from faults import main

    code = main(["import-trace", str(trace), "--out", str(tmp / "runs"), "--name", "cpuimp", "--quiet"])
    assert code == 0
    return next((tmp / "runs").iterdir())


def test_imported_cpu_trace_says_what_the_trace_does_not_record(imported):
    table = (imported / "table.md").read_text()
    assert "None" not in table.split("## Runtime")[0]
    assert "not recorded in the trace" in table.split("## Runtime")[0]
    assert "0 (0.0%)" not in table and "no neural or symbolic role" in table
    assert "older version" not in table and "imported trace does not record the peaks" in table
    measurement = table.split("## Measurement")[1].split("##")[0]
    assert "0 B" not in measurement
    page = (imported / "report.html").read_text()
    assert "no neural or symbolic role" in page and "older version" not in page


def test_imported_trace_quiet_prints_only_the_run_directory(capsys, tmp_path, imported):
    trace = json.loads((imported / "manifest.json").read_text())["imported_traces"][0]
    code, out, err = cli(capsys, "import-trace", trace, "--out", str(tmp_path), "--quiet")
    assert code == 0 and out.strip().splitlines() == [out.strip()] and Path(out.strip()).is_dir()


def test_one_row_heatmap_keeps_a_readable_colour_bar(imported):
    import matplotlib.pyplot as plt

    from nscharacterize.reports import plots

    breakdown = pd.read_csv(imported / "breakdown.csv")
    fig = plots.heatmap(breakdown)
    colorbar = fig.axes[-1]
    assert colorbar.get_position().height * fig.get_figheight() >= 1.5   # inches
    plt.close(fig)
    page = (imported / "report.html").read_text()
    heights = [int(h) for h in re.findall(r'"height":(\d+)', page)]
    assert heights and min(heights) >= 260


# ---- 5. figures do not collide ------------------------------------------------------------------------
def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_system_png_labels_stay_clear_of_the_legend(demo_run):
    import matplotlib.pyplot as plt

    from nscharacterize.reports.system_report import system_figure

    fig = system_figure(pd.read_csv(demo_run / "system.csv"))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    axes_box = ax.get_window_extent(renderer)
    labels = [t for t in ax.texts if "of end to end" in t.get_text()]
    assert labels
    for t in labels:
        box = t.get_window_extent(renderer)
        assert not _overlap(box, legend), t.get_text()
        assert box.x1 <= axes_box.x1 + 1, t.get_text()
    plt.close(fig)


def test_page_time_per_sample_chart_legend_in_stacking_order_and_totals_inside(demo_run):
    from nscharacterize.reports.html_run import _labels, _stacked, _wide

    breakdown = pd.read_csv(demo_run / "breakdown.csv")
    times, shares = _wide(breakdown, "category", "time_s"), _wide(breakdown, "category", "share")
    fig = _stacked(times, shares, _labels("category", times.columns), "category")
    legend = fig["layout"]["legend"]
    assert legend["traceorder"] == "normal" and legend["orientation"] == "v" and legend["x"] >= 1  # beside, not under the axis title
    bars = [t["name"] for t in fig["data"] if t["type"] == "bar"]
    assert bars[0] == "GEMM" and bars[-1] == "Other"   # left to right = top to bottom of the legend
    text = [t for t in fig["data"] if t["type"] == "scatter"][0]
    assert text["cliponaxis"] is False
    assert fig["layout"]["xaxis"]["range"][1] >= 1.15 * max(text["x"])


def test_facts_print_floats_to_four_significant_digits():
    from nscharacterize.reports.html import facts

    html = facts({"largest relative add-up error": 1.7785703712484037e-16, "samples": 3})
    assert "1.779e-16" in html and "1.7785703712484037e-16" not in html and ">3<" in html


# ---- the page stays small when a run has many samples (issue 23) -----------------------------------------
def test_a_long_data_file_is_cut_in_the_page_and_says_so(capsys, demo_run, tmp_path):
    import shutil

    from nscharacterize.reports.html_run import DATA_FILE_ROWS

    run = shutil.copytree(demo_run, tmp_path / "run")
    extra = pd.DataFrame({"sample": range(DATA_FILE_ROWS + 500), "value": 1.5})
    extra.to_csv(run / "extra.csv", index=False)
    code, _, err = cli(capsys, "report", str(run))
    assert code == 0, err
    page = (run / "report.html").read_text()
    assert f"extra.csv has {DATA_FILE_ROWS + 500:,} rows; the first {DATA_FILE_ROWS:,} are here" in page
    assert f'data-rows="{DATA_FILE_ROWS}"' in page
    shown = pd.read_csv(run / "breakdown.csv")      # a short file is whole, and says nothing
    assert f'data-rows="{len(shown)}"' in page and "breakdown.csv has" not in page


def test_a_roofline_with_nothing_to_place_says_why_there_is_no_figure(capsys, demo_run, tmp_path):
    import shutil

    run = shutil.copytree(demo_run, tmp_path / "run")
    roof = pd.read_csv(run / "roofline.csv").assign(flops=0.0, bytes=0.0)   # as a trace without shapes
    roof.to_csv(run / "roofline.csv", index=False)
    (run / "events.parquet").unlink()   # report would size the roofline again from the events
    code, _, err = cli(capsys, "report", str(run))
    assert code == 0, err
    section = (run / "report.html").read_text().split('id="roofline"')[1].split("<section")[0]
    assert "No figure: no row has both work (FLOPs) and bytes" in section and "Plotly.newPlot" not in section
