"""Taking the profiler's own cost out of the recorded times before they are shares of the wall.

Two ways (the config's ``profiler.compensation``; docs/measurement.md compares them on components
of known composition, benchmarks/ground_truth.py):

* ``per_event`` (the default): the profiler's cost is a constant per recorded event, measured on
  this machine (nscharacterize/profiler/calibration.py, recorded in the manifest). Each op row
  loses ``in_us`` per call from its own self time (the part of the cost inside its interval) and
  each parent loses ``out_us`` per call of its direct children (the part that lands between a
  child and its parent's edges). What a top-level event costs outside its interval falls between
  ops, where the unprofiled wall never had it, so the remainder (wall minus the compensated ops)
  is already free of it. cProfile rows lose ``in_us + out_us`` per call from their own tottime:
  the rows do not say who called whom, so the caller's share is taken from the callee.
* ``proportional``: every op's self time is scaled by unprofiled / profiled wall. Right only if
  the profiler slowed every op by the same factor; it takes from long ops what short ones cost.

Either way the categories plus the remainder add up to the unprofiled wall exactly; where the ops
alone exceed it, they are scaled down to it (``clamped`` in checks.csv).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MODES = ("per_event", "proportional")
DEFAULT = "per_event"
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
    c_in, c_out = float(torch_cost.get("in_us", 0.0)), float(torch_cost.get("out_us", 0.0))
    c_py = float(py_cost.get("in_us", 0.0)) + float(py_cost.get("out_us", 0.0))
    calls = ev["calls"].astype(float).to_numpy()
    source = ev["source"].astype(str).to_numpy()
    is_torch = np.isin(source, TORCH_SOURCES)
    own = np.where(is_torch, c_in * calls, np.where(source == "python", c_py * calls, 0.0))
    charged = own + _children_charge(ev, is_torch, c_out * calls)
    return pd.Series(np.clip(host_us.to_numpy(dtype=float) - charged, 0.0, None), index=ev.index)


def _children_charge(ev: pd.DataFrame, is_torch: np.ndarray, out_us: np.ndarray) -> np.ndarray:
    """What each row's direct children cost it: every nested torch row's ``out_us`` goes to the rows
    of its parent (same call, name = its innermost ancestor, ancestors = the rest) that have
    children, shared by their calls. A parent that is not a host op (a user range) takes nothing."""
    charge = np.zeros(len(ev))
    anc = ev["ancestors"].astype(str)
    nested = is_torch & (anc.to_numpy() != "")
    if not nested.any():
        return charge
    child = pd.DataFrame({k: ev[k].astype(str).to_numpy()[nested] for k in _GROUP})
    split = anc[nested].str.rpartition(">")
    child["name"] = split[2].to_numpy()
    child["ancestors"] = split[0].to_numpy()
    child["out_us"] = out_us[nested]
    owed = child.groupby(_GROUP + ["name", "ancestors"], sort=False)["out_us"].sum()
    parents = pd.DataFrame({k: ev[k].astype(str).to_numpy() for k in _GROUP + ["name", "ancestors"]})
    parents["calls"] = ev["calls"].astype(float).to_numpy()
    parents["row"] = np.arange(len(ev))
    eligible = is_torch & (ev["children"].astype(str).to_numpy() != "")
    parents = parents[eligible]
    if parents.empty:
        return charge
    keys = _GROUP + ["name", "ancestors"]
    parents = parents.join(owed.rename("owed"), on=keys, how="inner")
    if parents.empty:
        return charge
    weight = parents["calls"] / parents.groupby(keys, sort=False)["calls"].transform("sum")
    charge[parents["row"].to_numpy()] = (parents["owed"] * weight).to_numpy()
    return charge
