"""Sweeps end to end: points in their own processes, the sweep directory, scaling fits, Ray."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from clirun import printed_dir, run_cli, write_config

from nscharacterize.attribution.scaling import Point, bootstrap_exponent, fit_power_law, scaling_table
from nscharacterize.reports.sweep_report import split


def test_power_law_fit_recovers_a_known_exponent():
    x = np.array([10.0, 20.0, 40.0, 80.0])
    a, b, r2 = fit_power_law(x, 3e-4 * x ** 1.5)
    assert b == pytest.approx(1.5) and a == pytest.approx(3e-4) and r2 == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    per_point = [3e-4 * v ** 1.5 * rng.lognormal(0, 0.05, 8) for v in x]
    lo, hi = bootstrap_exponent(x, per_point, np.random.default_rng(0))
    assert lo < 1.5 < hi and hi - lo < 0.2


def test_scaling_table_fits_each_category_and_names_what_it_cannot_fit():
    def samples(x):
        rows = []
        for s in range(4):
            rows.append(("w", "c", "neural", "cpu", "category", "gemm", s, 1e-6 * x ** 3 * (1 + 0.01 * s)))
            rows.append(("w", "c", "neural", "cpu", "category", "embedding", s, 0.0))
            rows.append(("w", "c", "neural", "cpu", "total", "total", s, 1e-6 * x ** 3 * (1 + 0.01 * s)))
        return pd.DataFrame(rows, columns=["workload", "component", "kind", "device", "axis", "category",
                                           "sample", "time_s"])

    table = scaling_table([Point({"n": x, "k": 1}, samples(x)) for x in (4, 8, 16)], "n")
    gemm = table[table["category"] == "gemm"].iloc[0]
    assert gemm["b"] == pytest.approx(3.0, abs=1e-6) and gemm["n_points"] == 3 and gemm["others"] == "k=1"
    assert list(split(gemm["x"])) == [4, 8, 16]
    emb = table[table["category"] == "embedding"].iloc[0]
    assert math.isnan(emb["b"]) and "fewer than 2 points" in emb["note"]


def _sweep_config(tmp_path, values, **extra):
    cfg = write_config(tmp_path / "sweep.yaml", samples=2, repeats=1, **extra)
    raw = yaml.safe_load(cfg.read_text())
    raw["sweep"] = {"parameters": {"objects": values}}
    cfg.write_text(yaml.safe_dump(raw))
    return cfg


def test_sweep_runs_each_point_and_fits_scaling(tmp_path):
    cfg = _sweep_config(tmp_path, [4, 8])
    proc = run_cli("sweep", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    sweep_dir = tmp_path / "runs" / printed_dir(proc).name
    manifest = json.loads((sweep_dir / "sweep.json").read_text())
    assert manifest["status"] == "ok" and manifest["x"] == "objects"
    assert [p["name"] for p in manifest["points"]] == ["objects=4", "objects=8"]
    for p in manifest["points"]:
        run = sweep_dir / p["run_dir"]
        point_manifest = json.loads((run / "manifest.json").read_text())
        assert point_manifest["status"] == "ok"
        assert point_manifest["workloads"][0]["params"]["objects"] == p["params"]["objects"]
    scaling = pd.read_csv(sweep_dir / "scaling.csv")
    total = scaling[(scaling["component"] == "encoder") & (scaling["axis"] == "total")].iloc[0]
    assert total["n_points"] == 2 and not math.isnan(total["b"])
    assert (sweep_dir / "scaling.png").stat().st_size > 0
    assert "## Scaling" in (sweep_dir / "table.md").read_text()
    page = (sweep_dir / "report.html").read_text()   # the sweep's page: points, fits, figure
    assert "Scaling fits as saved (scaling.csv)" in page and "b 95% interval" in page and "objects=8" in page
    assert "Plotly.newPlot" in page
    (sweep_dir / "scaling.csv").unlink()
    assert run_cli("report", str(sweep_dir)).returncode == 0
    assert (sweep_dir / "scaling.csv").is_file()


def test_a_point_whose_process_dies_is_retried_once_and_the_others_are_kept(tmp_path):
    cfg = tmp_path / "dies.yaml"
    cfg.write_text(yaml.safe_dump({
        "device": "cpu", "samples": 2, "repeats": 1, "warmup": 1, "threads": 1,
        "workloads": [{"workload": "sweep_models:dies_at", "params": {"die": 8}}],
        "sweep": {"parameters": {"size": [4, 8, 16]}}}))
    proc = run_cli("sweep", str(cfg), "--out", str(tmp_path / "runs"))
    assert proc.returncode == 1, proc.stderr
    assert "retrying once" in proc.stderr
    sweep_dir = next((tmp_path / "runs").iterdir())
    points = {p["name"]: p for p in json.loads((sweep_dir / "sweep.json").read_text())["points"]}
    assert points["size=8"]["status"] == "failed" and points["size=8"]["attempts"] == 2
    assert "signal 9" in points["size=8"]["error"]
    assert points["size=4"]["status"] == points["size=16"]["status"] == "ok"
    scaling = pd.read_csv(sweep_dir / "scaling.csv")
    assert set(scaling["n_points"]) == {2}


@pytest.mark.parametrize("body, key", [
    ({"parameters": {"objects": [4]}, "x": "n"}, "sweep.x"),
    ({"parameters": {"no_such_param": [1, 2]}}, "sweep.parameters.no_such_param"),
    ({"parameters": {"objects": [4, 8], "hidden": [8]}, "mode": "zip"}, "sweep.mode"),
    ({"parameters": {"objects": [4, -1]}}, "params.objects"),
])
def test_bad_sweep_blocks_are_one_line_errors(tmp_path, body, key):
    cfg = write_config(tmp_path / "bad.yaml")
    raw = yaml.safe_load(cfg.read_text())
    raw["sweep"] = body
    cfg.write_text(yaml.safe_dump(raw))
    proc = run_cli("sweep", str(cfg), "--out", str(tmp_path))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and key in proc.stderr, proc.stderr


def test_sweep_on_ray_gives_the_same_work(tmp_path):
    pytest.importorskip("ray")
    cfg = _sweep_config(tmp_path, [4, 8])
    serial = run_cli("sweep", str(cfg), "--out", str(tmp_path / "serial"), "--quiet")
    ray = run_cli("sweep", str(cfg), "--out", str(tmp_path / "ray"), "--quiet", "--executor", "ray",
                  "--ray-cpus", "2")
    assert serial.returncode == 0 and ray.returncode == 0, ray.stderr
    dirs = {m: next((tmp_path / m).iterdir()) for m in ("serial", "ray")}
    assert json.loads((dirs["ray"] / "sweep.json").read_text())["executor"] == "ray"

    def calls(d):
        ev = pd.concat([pd.read_parquet(p) for p in sorted(d.glob("points/*/events.parquet"))])
        return ev.groupby(["component", "name", "input_shapes"])["calls"].sum().sort_index()

    pd.testing.assert_series_equal(calls(dirs["serial"]), calls(dirs["ray"]))


def test_run_report_has_the_end_to_end_view(demo_run):
    system = pd.read_csv(demo_run / "system.csv")
    samples = pd.read_csv(demo_run / "samples.csv")
    per_sample = samples[samples["axis"] == "total"].groupby("sample")["time_s"].sum()
    e2e = system[system["scope"] == "end_to_end"].iloc[0]
    assert e2e["time_s"] == pytest.approx(per_sample.mean())
    sides = system[(system["scope"] == "side") & (system["category"] == "total")]
    assert set(sides["group"]) == {"neural", "symbolic"}
    assert sides["time_s"].sum() == pytest.approx(e2e["time_s"])
    assert sides["share"].sum() == pytest.approx(1.0)
    comps = system[system["scope"] == "component"]
    assert comps["time_s"].sum() == pytest.approx(e2e["time_s"])
    for side in ("neural", "symbolic"):
        cats = system[(system["scope"] == "side") & (system["group"] == side) & (system["category"] != "total")]
        assert cats["time_s"].sum() == pytest.approx(sides.set_index("group").loc[side, "time_s"])
    table = (demo_run / "table.md").read_text()
    assert "## End to end" in table and "Neural : symbolic" in table
    assert "End to end: time per sample by side and category" in (demo_run / "report.html").read_text()
