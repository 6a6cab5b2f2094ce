"""Taking the profiler's own cost out of the recorded times before they are shares of the wall.

Two ways (the config's ``profiler.compensation``; docs/measurement.md compares them on components
of known composition, benchmarks/ground_truth.py):

* ``per_event``: the profiler's cost is a constant per recorded event, measured on
  this machine (nscharacterize/profiler/calibration.py, recorded in the manifest). Each op row
  loses ``in_us`` per call from its own self time (the part of the cost inside its interval;
  ``nested_in_us`` for an op whose parent is an op) and each parent loses ``out_us`` per call of
  its direct children (the part that lands between a child and its parent's edges). The first
  call of each op name in a profiled call, and the call's first event, lose their measured extra
  (``first_call_us``, ``capture_first_us``: several to tens of microseconds each, most of the
  cost for a short component of many distinct ops). What a top-level event costs outside its
  interval falls between ops, where the unprofiled wall never had it, so the remainder (wall
  minus the compensated ops) is already free of it. cProfile rows (one per function and direct caller) lose ``in_us`` per
  call and their caller's rows ``out_us`` per call they made.
* ``proportional`` (the default): every op's self time is scaled by unprofiled / profiled wall.
  Right only if the profiler slowed every op by the same factor; it takes from long ops what
  short ones cost. On the ground-truth suite it is still the closer of the two for torch
  components made of small ops called from Python (docs/measurement.md), so it stays the default.

Either way the categories plus the remainder add up to the unprofiled wall exactly; where the ops
alone exceed it, they are scaled down to it (``clamped`` in checks.csv).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MODES = ("per_event", "proportional")
DEFAULT = "proportional"
TORCH_SOURCES = ("op", "runtime")
_GROUP = ["workload", "component", "sample"]


def mode_of(compensation: dict | None) -> str:
    """The mode a run's ``compensation`` manifest entry asks for and can have: per-event needs its
    measured costs; a run without them (older runs, imported traces) is proportional."""
    comp = compensation or {}
    if comp.get("mode") == "per_event" and isinstance(comp.get("torch"), dict):
        return "per_event"
    return "proportional"


def per_event_us(ev: pd.DataFrame, host_us: pd.Series, compensation: dict) -> pd.Series:
    """Each row's host time (``host_us``, the recorded self time of host rows) less the profiler's
    cost for the events it holds and for its direct children, never below zero; in microseconds."""
    if ev.empty:
        return host_us.astype(float)
    torch_cost = compensation.get("torch") or {}
    py_cost = compensation.get("cprofile") or {}
    c_top, c_out = float(torch_cost.get("in_us", 0.0)), float(torch_cost.get("out_us", 0.0))
    c_nested = float(torch_cost.get("nested_in_us", c_top))
    c_py_in, c_py_out = float(py_cost.get("in_us", 0.0)), float(py_cost.get("out_us", 0.0))
    calls = ev["calls"].astype(float).to_numpy()
    source = ev["source"].astype(str).to_numpy()
    is_torch = np.isin(source, TORCH_SOURCES)
    charge, has_op_parent = _children_charge(ev, is_torch, c_out * calls)
    own = np.where(is_torch, np.where(has_op_parent, c_nested, c_top) * calls,
                   np.where(source == "python", c_py_in * calls, 0.0))
    own = own + _callers_charge(ev, source == "python", c_py_out * calls)
    own = own + np.where(is_torch, _first_calls(ev, is_torch, has_op_parent, torch_cost), 0.0)
    return pd.Series(np.clip(host_us.to_numpy(dtype=float) - (own + charge), 0.0, None), index=ev.index)


def _first_calls(ev: pd.DataFrame, is_torch: np.ndarray, has_op_parent: np.ndarray, cost: dict) -> np.ndarray:
    """The first call of each op name in a profiled call costs more (``first_call_us``, or
    ``nested_first_call_us`` for a name first seen nested), and the call's first event more again
    (``capture_first_us``). Event rows keep the order in which their key first occurred, so the
    first row of a name in a (workload, component, sample) holds its first call."""
    group = ev["workload"].astype(str) + "\0" + ev["component"].astype(str) + "\0" + ev["sample"].astype(str)
    torch_rows = pd.Series(is_torch, index=ev.index)
    first_name = (~(group + "\0" + ev["name"].astype(str)).duplicated()).to_numpy() & is_torch
    first_event = np.zeros(len(ev), dtype=bool)
    firsts = group[torch_rows].drop_duplicates().index
    first_event[ev.index.get_indexer(firsts)] = True
    per_name = np.where(has_op_parent, float(cost.get("nested_first_call_us", 0.0)),
                        float(cost.get("first_call_us", 0.0)))
    return np.where(first_name, per_name, 0.0) + np.where(first_event, float(cost.get("capture_first_us", 0.0)), 0.0)


def _children_charge(ev: pd.DataFrame, is_torch: np.ndarray, out_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What each row's direct children cost it, and whether each row's parent is a host op.

    Every nested torch row's ``out_us`` goes to the rows of its parent (same call, name = its
    innermost ancestor, ancestors = the rest) that have children, shared by their calls. A parent
    that is not a host op (a user range) takes nothing: its self time counts nowhere."""
    charge = np.zeros(len(ev))
    has_op_parent = np.zeros(len(ev), dtype=bool)
    anc = ev["ancestors"].astype(str)
    nested = is_torch & (anc.to_numpy() != "")
    if not nested.any():
        return charge, has_op_parent
    keys = _GROUP + ["name", "ancestors"]
    child = pd.DataFrame({k: ev[k].astype(str).to_numpy()[nested] for k in _GROUP})
    split = anc[nested].str.rpartition(">")
    child["name"] = split[2].to_numpy()
    child["ancestors"] = split[0].to_numpy()
    child["out_us"] = out_us[nested]
    child["row"] = np.flatnonzero(nested)
    parents = pd.DataFrame({k: ev[k].astype(str).to_numpy() for k in keys})
    parents["calls"] = ev["calls"].astype(float).to_numpy()
    parents["row"] = np.arange(len(ev))
    parents = parents[is_torch & (ev["children"].astype(str).to_numpy() != "")]
    if parents.empty:
        return charge, has_op_parent
    known = parents[keys].drop_duplicates()
    matched = child.merge(known, on=keys, how="inner")
    has_op_parent[matched["row"].to_numpy()] = True
    owed = matched.groupby(keys, sort=False)["out_us"].sum()
    parents = parents.join(owed.rename("owed"), on=keys, how="inner")
    if len(parents):
        weight = parents["calls"] / parents.groupby(keys, sort=False)["calls"].transform("sum")
        charge[parents["row"].to_numpy()] = (parents["owed"] * weight).to_numpy()
    return charge, has_op_parent


def _callers_charge(ev: pd.DataFrame, is_python: np.ndarray, out_us: np.ndarray) -> np.ndarray:
    """cProfile rows are per (function, direct caller): each call's ``out_us`` goes to the rows of
    its caller (same call, that function's name), shared by their calls. Calls from outside the
    profiled call (no caller) charge nobody."""
    charge = np.zeros(len(ev))
    anc = ev["ancestors"].astype(str).to_numpy()
    callee = is_python & (anc != "")
    if not callee.any():
        return charge
    owed = pd.DataFrame({**{k: ev[k].astype(str).to_numpy()[callee] for k in _GROUP},
                         "name": anc[callee], "out_us": out_us[callee]})
    owed = owed.groupby(_GROUP + ["name"], sort=False)["out_us"].sum()
    rows = pd.DataFrame({k: ev[k].astype(str).to_numpy() for k in _GROUP + ["name"]})
    rows["calls"] = ev["calls"].astype(float).to_numpy()
    rows["row"] = np.arange(len(ev))
    rows = rows[is_python].join(owed.rename("owed"), on=_GROUP + ["name"], how="inner")
    if len(rows):
        weight = rows["calls"] / rows.groupby(_GROUP + ["name"], sort=False)["calls"].transform("sum")
        charge[rows["row"].to_numpy()] = (rows["owed"] * weight).to_numpy()
    return charge
