"""Per-event compensation: the arithmetic on event tables whose answer is known, the add-up
invariant, the calibration's arithmetic and cache, and the manifest entry of a real run."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clirun import run_cli, write_config
from nscharacterize.attribution.aggregate import attribute, breakdown
from nscharacterize.attribution.compensation import mode_of, per_event_us
from nscharacterize.profiler import calibration
from nscharacterize.profiler.events import events_frame, op_time_us

COST = {"mode": "per_event", "torch": {"in_us": 0.5, "out_us": 1.0, "total_us": 2.0},
        "cprofile": {"in_us": 0.1, "out_us": 0.2, "total_us": 0.3}}


def _row(name, self_us, calls=1, ancestors="", children="", category="elementwise", source="op", sample=0,
         component="c"):
    return {"workload": "w", "component": component, "kind": "neural", "sample": sample, "source": source,
            "device": "cpu", "name": name, "ancestors": ancestors, "children": children, "calls": calls,
            "self_cpu_us": self_us, "category": category, "subcategory": "", "rule": "r"}


def _events(rows):
    ev = events_frame([{k: v for k, v in r.items() if k not in ("category", "subcategory", "rule")} for r in rows])
    for col in ("category", "subcategory", "rule"):
        ev[col] = [r[col] for r in rows]
    return ev


def _timings(wall_s, profiled_s, profiler="torch", component="c", sample=0):
    return pd.DataFrame([{"workload": "w", "component": component, "kind": "neural", "profiler": profiler,
                          "device": "cpu", "sample": sample, "wall_s": wall_s, "profiled_wall_s": profiled_s}])


def test_each_event_loses_its_own_cost_and_each_parent_its_childrens():
    # y + 1.0 a hundred times: add (self 300) > to (self 150) > _to_copy (self 200) > copy_ (self 80)
    ev = _events([_row("aten::add", 300.0, 100, children="aten::to"),
                  _row("aten::to", 150.0, 100, "aten::add", "aten::_to_copy"),
                  _row("aten::_to_copy", 200.0, 100, "aten::add>aten::to", "aten::copy_"),
                  _row("aten::copy_", 80.0, 100, "aten::add>aten::to>aten::_to_copy"),
                  _row("aten::mm", 1000.0, 1, category="gemm")])
    got = per_event_us(ev, op_time_us(ev), COST).to_numpy()
    # own: 0.5 x calls; parent: 1.0 x calls of its direct children
    np.testing.assert_allclose(got, [300 - 50 - 100, 150 - 50 - 100, 200 - 50 - 100, 80 - 50, 1000 - 0.5])


def test_a_parents_charge_is_shared_by_its_rows_in_proportion_to_calls_and_never_goes_negative():
    ev = _events([_row("aten::where", 40.0, 3, children="aten::to", category="elementwise"),
                  _row("aten::where", 10.0, 1, children="aten::empty|aten::to"),
                  _row("aten::where", 5.0, 2),                       # no children: owes nothing
                  _row("aten::to", 8.0, 8, "aten::where"),
                  _row("aten::empty", 0.1, 4, "aten::where")])
    got = per_event_us(ev, op_time_us(ev), COST).to_numpy()
    owed = 12 * 1.0                                                   # 12 child calls x out_us
    np.testing.assert_allclose(got, [40 - 1.5 - owed * 3 / 4, 10 - 0.5 - owed / 4, 5 - 1.0, 8 - 4.0, 0.0])


def test_children_of_a_user_range_charge_nobody_and_cprofile_calls_charge_their_caller():
    ev = _events([_row("my_range", 50.0, 1, children="aten::neg", source="annotation", category="other"),
                  _row("aten::neg", 30.0, 10, "my_range"),
                  _row("mod:run", 100.0, 1, source="python", category="other"),
                  _row("mod:filter_red", 20.0, 30, "mod:run", source="python", category="other"),
                  _row("mod:filter_red", 5.0, 10, "mod:other", source="python", category="other"),
                  _row("mod:other", 10.0, 2, "mod:run", source="python", category="other")])
    got = per_event_us(ev, op_time_us(ev), COST).to_numpy()
    # a range's self time counts nowhere; cProfile: in 0.1 per own call, out 0.2 per call made
    np.testing.assert_allclose(got, [0.0, 30 - 5.0, 100 - 0.1 - 0.2 * 32, 20 - 3.0, 5 - 1.0,
                                     10 - 0.2 - 0.2 * 10])


def test_per_event_attribution_adds_up_exactly_and_leaves_long_ops_alone():
    # 1 matmul of 500 us among 200 ops of 1 us recorded as 2.5 us each (in 0.5, out 1.0 to the gap)
    ev = _events([_row("aten::mm", 500.5, 1, category="gemm"), _row("aten::add", 200 * 1.5, 200)])
    wall, profiled = 900e-6, (900 + 200 * 1.5) * 1e-6
    per = attribute(ev, _timings(wall, profiled), COST)
    prop = attribute(ev, _timings(wall, profiled), {"mode": "proportional", **{k: COST[k] for k in ("torch",)}})
    for att in (per, prop):
        cat = att.samples[att.samples["axis"] == "category"]
        assert cat["time_s"].sum() == pytest.approx(wall, rel=1e-12)
        assert att.checks["addup_error_s"].max() <= 1e-15
    shares = {m: breakdown(a.samples).query("axis == 'category'").set_index("category")["share"]
              for m, a in (("per", per), ("prop", prop))}
    assert shares["per"]["gemm"] == pytest.approx(500 / 900)            # the truth of this table
    assert shares["per"]["elementwise"] == pytest.approx(200 / 900)
    assert shares["prop"]["gemm"] == pytest.approx(500.5 * 900 / (900 + 300) / 900)   # taken from the matmul
    assert per.checks["scale"].iloc[0] == 1.0 and not per.checks["clamped"].iloc[0]


def test_per_event_ops_beyond_the_wall_are_scaled_down_to_it():
    ev = _events([_row("aten::mm", 800.0, 1, category="gemm"), _row("aten::add", 400.0, 100)])
    att = attribute(ev, _timings(1000e-6, 1500e-6), COST)
    assert bool(att.checks["clamped"].iloc[0])
    cat = att.samples[att.samples["axis"] == "category"].set_index("category")["time_s"]
    assert cat.sum() == pytest.approx(1000e-6, rel=1e-12) and cat["other"] == pytest.approx(0.0, abs=1e-15)


def test_the_first_call_of_each_name_and_the_first_event_lose_their_extra():
    cost = {"mode": "per_event", "torch": {"in_us": 0.0, "out_us": 0.0, "first_call_us": 5.0,
                                           "nested_first_call_us": 2.0, "capture_first_us": 30.0}}
    ev = _events([_row("aten::neg", 100.0, 10, children="aten::to"), _row("aten::to", 20.0, 10, "aten::neg"),
                  _row("aten::mm", 50.0, 2, category="gemm"),
                  _row("aten::neg", 10.0, 2, children="aten::to", sample=1), _row("aten::neg", 9.0, 1, sample=1)])
    got = per_event_us(ev, op_time_us(ev), cost).to_numpy()
    # sample 0: neg is its first event (30 + 5), to first nested (2), mm first of its name (5);
    # sample 1: its own first event and name again; the second neg row is not a first
    np.testing.assert_allclose(got, [100 - 35, 20 - 2, 50 - 5, 0.0, 9.0])


def test_without_measured_costs_the_attribution_is_proportional():
    assert mode_of(None) == "proportional"
    assert mode_of({"mode": "per_event"}) == "proportional"          # an imported trace, an older run
    assert mode_of({"mode": "proportional", "torch": COST["torch"]}) == "proportional"
    assert mode_of(COST) == "per_event"


def test_calibration_arithmetic():
    t = calibration.estimate_torch(100, top_self=30e-6, nested_parent_self=60e-6, nested_children_self=110e-6,
                                   nested_wall=100e-6, flat_wall=200e-6, flat_profiled_wall=400e-6,
                                   nested_profiled_wall=190e-6)
    assert (t.in_us, t.out_us, t.nested_in_us, t.total_us, t.nested_total_us) == pytest.approx((0.3, 0.6, 0.1, 2.0, 0.9))
    t = calibration.estimate_torch(100, -1e-6, -1e-6, 90e-6, 100e-6, 300e-6, 200e-6)   # noise never makes a cost negative
    assert (t.in_us, t.out_us, t.nested_in_us, t.total_us) == (0.0, 0.0, 0.0, 0.0)
    # first calls: rows in call order; a: 40 then 1, 1; b: 8 then 2, 2; c: 7 then 1, 1 -> typical 6, start 33
    rows = [{"source": "op", "ancestors": "", "name": n, "self_cpu_us": v}
            for n, v in [("a", 40), ("b", 8), ("c", 7), ("a", 1), ("b", 2), ("c", 1), ("a", 1), ("b", 2), ("c", 1)]]
    assert calibration.first_call_excess(rows, nested=False) == pytest.approx((6.0, 33.0))
    p = calibration.estimate_cprofile(1000, callee_self=100e-6, wall=100e-6, profiled_wall=400e-6)
    assert (p.in_us, p.out_us, p.total_us) == pytest.approx((0.1, 0.2, 0.3))


def test_calibration_measures_real_costs_once_per_machine_and_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("NSCHARACTERIZE_CACHE", str(tmp_path))
    monkeypatch.setattr(calibration, "N_EVENTS", 64)
    monkeypatch.setattr(calibration, "ROUNDS", 2)
    measured = []
    real = calibration.measure
    monkeypatch.setattr(calibration, "measure", lambda *a, **k: measured.append(1) or real(*a, n=64, rounds=2))
    fp = {"cpu_model": "x", "threads": 1, "torch": "t"}
    first = calibration.profiler_cost(fp, True, True, True)
    again = calibration.profiler_cost(fp, True, True, True)
    other = calibration.profiler_cost(fp, False, False, False)
    assert len(measured) == 2                                       # the second call read the cache
    assert first["measured_at"] == again["measured_at"] and first["settings"] != other["settings"]
    for cost in (first["torch"], first["cprofile"]):
        assert all(np.isfinite(v) and v >= 0 for v in cost.values())
    assert first["torch"]["in_us"] + first["torch"]["out_us"] > 0     # recording an op is never free
    assert json.loads(open(first["cache_file"]).read())["torch"] == first["torch"]


def test_a_run_records_the_compensation_and_the_config_key_is_checked(tmp_path):
    cfg = write_config(tmp_path / "c.yaml", samples=1, output=str(tmp_path / "runs"),
                       profiler={"compensation": "per_event"})
    res = run_cli("run", str(cfg))
    assert res.returncode == 0, res.stderr
    run_dir = next((tmp_path / "runs").iterdir())
    comp = json.loads((run_dir / "manifest.json").read_text())["compensation"]
    assert comp["mode"] == "per_event" and {"in_us", "out_us", "first_call_us"} <= set(comp["torch"])
    checks = pd.read_csv(run_dir / "checks.csv")
    assert len(checks) and ((checks["scale"] == 1.0) | checks["clamped"]).all()   # per event: no W/P scaling
    assert comp["cprofile"]["in_us"] >= 0 and comp["settings"] == "shapes=1,flops=1,memory=1"
    bad = write_config(tmp_path / "bad.yaml", profiler={"compensation": "none"})
    res = run_cli("run", str(bad))
    assert res.returncode == 2 and "profiler.compensation" in res.stderr and "Traceback" not in res.stderr
