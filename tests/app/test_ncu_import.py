"""`nscharacterize ncu-import` end to end: a real CPU run, then an Nsight Compute export merged
into its roofline, through the CLI as a user calls it.

The recorded export (tests/fixtures/ncu/, README there) has no NVTX ranges, so it is given to one
component with --component: that checks the reading, categories, merge and re-rendering on real
counter values, not that those kernels belong to that component. The NVTX path is checked with an
export this test writes (made-up numbers), naming the run's own components.
"""
from __future__ import annotations

import csv

import pandas as pd
import pytest
from clirun import TESTS, printed_dir, run_cli, write_config

from nscharacterize.profiler.nvtx import range_name

RECORDED = TESTS / "fixtures" / "ncu" / "bert_mha_a100_details.csv.gz"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ncu")
    cfg = write_config(tmp / "c.yaml", samples=1, repeats=1, metrics={"memory": False})
    done = run_cli("run", str(cfg), "--out", str(tmp / "runs"), "--quiet", "--nvtx")
    assert done.returncode == 0, done.stderr
    return str(printed_dir(done))


def test_recorded_report_merges_into_the_roofline(run_dir):
    done = run_cli("ncu-import", str(RECORDED), run_dir, "--component", "mlp-demo/encoder")
    assert done.returncode == 0, done.stderr
    assert "26 of 26 kernel launches placed" in done.stderr
    measured = pd.read_csv(f"{run_dir}/roofline_measured.csv")
    assert set(measured["component"]) == {"encoder"} and "gemm" in set(measured["category"])
    assert measured["kernels"].sum() == 26 and (measured["passes"] == 1).all()
    table = open(f"{run_dir}/table.md").read()
    assert "### Measured with Nsight Compute" in table and "bert_mha_a100_details.csv.gz" in table
    assert "Measured with Nsight Compute, per pass" in open(f"{run_dir}/report.html").read()
    assert '"diamond-open"' in open(f"{run_dir}/report.html").read()   # the measured points in the figure
    again = run_cli("report", run_dir)                     # a plain re-render keeps the measured points
    assert again.returncode == 0, again.stderr
    assert "### Measured with Nsight Compute" in open(f"{run_dir}/table.md").read()


def test_nvtx_ranges_place_kernels_in_the_runs_components(run_dir, tmp_path):
    path = tmp_path / "ranged.csv"
    with path.open("w", newline="") as f:   # WRITTEN BY THIS TEST: raw page, made-up values
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerow(["ID", "Process ID", "thread Domain:Push/Pop_Range:PL_Type:PL_Value:CLR_Type:Color:Msg_Type:Msg",
                    "Kernel Name", "gpu__time_duration.sum", "dram__bytes.sum"])
        w.writerow(["", "", "", "", "nsecond", "byte"])
        for i, comp in enumerate(["encoder", "reasoner", "to_scene"]):
            cell = f'7  "<default domain>:{range_name("mlp-demo", comp, "s0r0")}:none:none:none:none:none:none"'
            w.writerow([str(i), "7", cell, "ampere_sgemm_32x32_sliced1x4_tn", "1,000", "4,096"])
    done = run_cli("ncu-import", str(path), run_dir)
    assert done.returncode == 0, done.stderr
    measured = pd.read_csv(f"{run_dir}/roofline_measured.csv")
    assert sorted(measured["component"]) == ["encoder", "reasoner", "to_scene"]
    assert measured["time_s"].tolist() == pytest.approx([1e-6] * 3) and (measured["bytes"] == 4096).all()


@pytest.mark.parametrize("args, what", [
    (["--component", "mlp-demo/nope"], "--component: 'mlp-demo/nope' is not a component of this run"),
    ([], "none of its 26 kernel launches ran in a component of this run"),
])
def test_bad_input_is_one_line_and_exit_2(run_dir, args, what):
    done = run_cli("ncu-import", str(RECORDED), run_dir, *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nscharacterize: error: ") and what in lines[0]


def test_not_a_report_is_one_line_and_exit_2(run_dir, tmp_path):
    (tmp_path / "x.ncu-rep").write_bytes(b"NVPR\x00binary")
    done = run_cli("ncu-import", str(tmp_path / "x.ncu-rep"), run_dir)
    assert done.returncode == 2 and "binary .ncu-rep report, not its CSV export" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
