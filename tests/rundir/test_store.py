"""The run directory: round trip, atomic writes, and clear errors for damaged directories."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from nscharacterize.reports.run_report import render
from nscharacterize.results import reclassify, refresh_views
from nscharacterize.rundir.store import RunDir, RunDirError
from nscharacterize.taxonomy.classifier import Taxonomy
from clirun import run_cli


def test_round_trip_reproduces_breakdown(demo_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(demo_run, copy)
    run = RunDir(copy)
    before = run.breakdown()
    again = reclassify(run, Taxonomy()).breakdown
    pd.testing.assert_frame_equal(before.reset_index(drop=True), pd.read_csv(copy / "breakdown.csv"))
    pd.testing.assert_frame_equal(again.reset_index(drop=True), before, check_dtype=False, rtol=1e-9)
    ev = run.events()
    assert {"category", "rule", "ancestors", "input_shapes", "self_cpu_us", "flops", "bytes"} <= set(ev.columns)
    assert ev["calls"].sum() > 0


def test_render_from_saved_files_only(demo_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(demo_run, copy, ignore=shutil.ignore_patterns("events.parquet", "*.png", "table.md"))
    (copy / "system.csv").unlink()
    views = refresh_views(RunDir(copy))   # derived from the saved samples and breakdown, written
    assert views.roofline is None and (copy / "system.csv").is_file()
    written = render(RunDir(copy), views)
    assert {p.name for p in written} == {"table.md", "report.html"}      # report.html draws the figures
    written = render(RunDir(copy), views, png=True)
    assert {p.name for p in written} == {"table.md", "heatmap.png", "breakdown.png", "python_breakdown.png",
                                         "system.png", "report.html"}
    assert "events.parquet is not in this run directory" in (copy / "report.html").read_text()
    # the roofline is sized from events.parquet: without it table.md says so and no roofline file is
    # written (the live run, with its events, wrote both)
    assert "No events.parquet in this run directory: the roofline needs it." in (copy / "table.md").read_text()
    assert (demo_run / "roofline.csv").is_file() and "operational intensity" in (demo_run / "report.html").read_text()


def test_no_temporary_files_left(demo_run):
    assert not [p for p in demo_run.iterdir() if p.name.startswith(".")]


def test_damaged_run_directories(demo_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(demo_run, copy)
    (copy / "breakdown.csv").write_text("not,a\nbreakdown\n\"")
    with pytest.raises(RunDirError, match="breakdown.csv"):
        RunDir(copy).breakdown()
    (copy / "manifest.json").write_text("{")
    with pytest.raises(RunDirError, match="corrupt JSON"):
        _ = RunDir(copy).manifest
    (copy / "manifest.json").write_text(json.dumps({"schema": 99}))
    with pytest.raises(RunDirError, match="schema"):
        _ = RunDir(copy).manifest
    (copy / "samples.csv").unlink()
    with pytest.raises(RunDirError, match="missing"):
        RunDir(copy).samples()
    proc = run_cli("report", str(copy))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "manifest.json" in proc.stderr


# ---- samples.csv's head for the page, without reading it whole (issue 23) ------------------------
def test_csv_rows_counts_lines_in_chunks_and_says_where_it_cannot(tmp_path):
    from nscharacterize.rundir.store import csv_rows, torn_last_line

    plain = tmp_path / "plain.csv"
    plain.write_text("a,b\n" + "".join(f"{i},x\n" for i in range(1000)))
    assert (csv_rows(plain, chunk=7), torn_last_line(plain)) == (1000, False)   # chunks cut lines anywhere
    (tmp_path / "torn.csv").write_text("a,b\n1,x\n2,")
    assert (csv_rows(tmp_path / "torn.csv"), torn_last_line(tmp_path / "torn.csv")) == (1, True)
    (tmp_path / "quoted.csv").write_text('a,b\n1,"two\nlines"\n')
    assert (csv_rows(tmp_path / "quoted.csv"), torn_last_line(tmp_path / "quoted.csv")) == (None, False)  # only a parser can count these
    (tmp_path / "empty.csv").write_text("")
    assert (csv_rows(tmp_path / "empty.csv"), torn_last_line(tmp_path / "empty.csv")) == (0, False)  # not torn; the reader says "corrupt"


def test_samples_head_reads_the_first_rows_and_counts_them_all(demo_run, tmp_path):
    run_path = shutil.copytree(demo_run, tmp_path / "run")
    run = RunDir(run_path)
    whole = run.samples()
    head, total = run.samples_head(3)
    assert total == len(whole) > 3
    pd.testing.assert_frame_equal(head, whole.head(3))
    (run_path / "samples.csv").write_bytes((run_path / "samples.csv").read_bytes()[:-5])
    with pytest.raises(RunDirError, match="truncated"):
        run.samples_head(3)
