"""What recording costs: the profilers' time per recorded event on this machine and torch version.

torch.profiler and cProfile do not slow every op alike. Their cost is mostly a constant per
recorded event (about a microsecond per op here), so a 500 us matrix product is inflated by a
fraction of a percent while a 1 us scalar add is inflated several times. Where that cost lands is
what the compensation (nscharacterize/attribution/compensation.py) needs:

* ``in_us``: the part inside the event's own interval, i.e. in its own recorded self time, for an
  op called from Python (top level); ``nested_in_us``: the same for an op called by another op
  (measured smaller here: back-to-back events find the profiler's state hot in cache);
* ``out_us``: the part outside the event's interval but inside its parent's, i.e. in the
  parent's self time. For a top-level op it falls between ops, where the unprofiled wall never
  saw it, so the remainder (wall minus ops) leaves it out by itself;
* ``first_call_us`` (``nested_first_call_us``): the first call of each distinct op name in a
  profiled call costs tens of microseconds more than the later ones (measured: neg 40-60 us,
  mm 30-55 us, sum 25-80 us on the first call, 1-6 us after), inside that call's interval;
  ``capture_first_us``: the very first event of a profiled call costs more again. For a component
  of a few milliseconds with thirty distinct ops this is most of the profiler's cost;
* ``total_us`` and ``nested_total_us``: all a top-level (nested) event adds to the profiled wall;
  they say how the overhead a sample shows (profiled less unprofiled wall) is spread over its
  events, so the compensation can scale the costs to each sample (see compensation.py).

torch.profiler, on three kernels of N events:

* ``in_us``: a Python loop of N ``x.to(x.dtype)``, an op that returns its input and does next to
  nothing; its self time per call is ``in_us`` (an upper bound by a few tens of nanoseconds);
* ``out_us``: ``torch._foreach_neg`` over N tensors, one op whose N ``aten::neg`` run from its
  C++ loop; the parent's self time per child is its loop step plus ``out_us``;
* ``nested_in_us``: those children's self time less the same call's unprofiled time, per child
  (the one cross-run number of the three);
* ``first_call_us``: a loop over ten distinct element-wise ops, eight times: each name's first
  call's self time less the median of its later calls, the median over the names (the first name
  aside: its excess less that median is ``capture_first_us``); ``nested_first_call_us`` the same
  for ten ``_foreach_*`` calls' children;
* ``total_us``: a Python loop of N ``torch.neg``, profiled wall less unprofiled wall, per call;
  ``nested_total_us`` the same for the ``_foreach_neg`` call, per child.

cProfile: a Python loop calling a trivial function N times. ``in_us`` is the callee's tottime per
call (its body is one return: an upper bound by it), ``total_us`` the walls' difference per call,
``out_us`` the rest, which lands in the caller's tottime.

Each number is the least disturbed (smallest) of a few rounds, and unprofiled times are the
thread's CPU time (a call preempted on a shared machine does not count its wait; the work is
single-threaded). The result is cached per machine (``ceilings.MACHINE_FIELDS``) and profiler
settings, like the ceilings, and goes into the manifest, so ``report`` re-derives the attribution
from the run alone.
"""
from __future__ import annotations

import hashlib
import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from .ceilings import MACHINE_FIELDS, cache_dir, machine_hash, write_cache

CALIBRATION_VERSION = 4   # bump when the method changes: old cache entries are measured again
N_EVENTS = 256            # events per kernel: long enough to dwarf the one Python call, short enough to dodge preemption
ROUNDS = 7


@dataclass
class EventCost:
    """One profiler's cost per recorded event, in microseconds."""
    in_us: float               # inside the event's own interval, for an op called from Python
    out_us: float              # outside it but inside its parent's interval
    total_us: float            # all a top-level event adds to the profiled wall (reported only)
    nested_in_us: float = 0.0  # inside the event's own interval, for an op called by another op
    nested_total_us: float = 0.0  # all a nested event adds to the profiled wall (its top-level parent's share aside)
    first_call_us: float = 0.0    # extra in the first call of each distinct op name in a profiled call (top level)
    nested_first_call_us: float = 0.0  # the same for an op name first seen nested in another op
    capture_first_us: float = 0.0  # extra in the very first event of a profiled call, beyond its first-call extra


def settings_key(record_shapes: bool, with_flops: bool, memory: bool) -> str:
    return f"shapes={int(record_shapes)},flops={int(with_flops)},memory={int(memory)}"


def profiler_cost(fp: dict, record_shapes: bool = True, with_flops: bool = True, memory: bool = True,
                  threads: int | None = None) -> dict:
    """The per-event costs for this machine and these profiler settings: from the cache where
    measured before, else measured now (a few seconds) and cached."""
    key = settings_key(record_shapes, with_flops, memory)
    digest = hashlib.sha256(f"{machine_hash(fp)}:{key}:{CALIBRATION_VERSION}".encode()).hexdigest()[:16]
    path = cache_dir() / f"profiler-cost-{digest}.json"
    cached = _read(path)
    if cached is not None:
        return dict(cached, cache_file=str(path))
    measured = measure(record_shapes, with_flops, memory, threads)
    measured.update({"settings": key, "version": CALIBRATION_VERSION,
                     "machine": {k: fp.get(k) for k in MACHINE_FIELDS},
                     "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    write_cache(path, measured)
    return dict(measured, cache_file=str(path))


def measure(record_shapes: bool = True, with_flops: bool = True, memory: bool = True,
            threads: int | None = None, n: int | None = None, rounds: int | None = None) -> dict:
    """Measures both profilers now; see the module docstring for the method."""
    n, rounds = n or N_EVENTS, rounds or ROUNDS
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        torch_cost, torch_raw = _torch_cost(record_shapes, with_flops, memory, n, rounds)
        py_cost, py_raw = _cprofile_cost(n, rounds)
    finally:
        torch.set_num_threads(previous)
    return {"torch": asdict(torch_cost), "cprofile": asdict(py_cost), "n_events": n, "rounds": rounds,
            "raw_s": {"torch": torch_raw, "cprofile": py_raw}}


def estimate_torch(n: int, top_self: float, nested_parent_self: float, nested_children_self: float,
                   nested_wall: float, flat_wall: float, flat_profiled_wall: float,
                   nested_profiled_wall: float | None = None) -> EventCost:
    """The arithmetic of the torch calibration, seconds in, microseconds per event out.

    ``top_self``: the self time of N near-empty top-level ops (``in``); ``nested_parent_self`` and
    ``nested_children_self``: one parent op around N children, and those children (``out``, and
    with the unprofiled ``nested_wall`` of the same call, ``nested_in``); ``flat_wall`` and
    ``flat_profiled_wall``: a loop of N top-level ops unprofiled and profiled (``total``). Noise
    never makes a cost negative."""
    per = 1e6 / n
    return EventCost(in_us=max(top_self, 0.0) * per, out_us=max(nested_parent_self, 0.0) * per,
                     total_us=max(flat_profiled_wall - flat_wall, 0.0) * per,
                     nested_in_us=max(nested_children_self - nested_wall, 0.0) * per,
                     nested_total_us=max((nested_profiled_wall or nested_wall) - nested_wall, 0.0) * per)


def first_call_excess(rows, nested: bool) -> tuple[float, float]:
    """From one profiled call's rows in call order: (median over op names of the first call's self
    time less the median of that name's later calls, the first name's excess less that median);
    microseconds. Only the top-level (or nested) rows count; names seen once are left out."""
    calls: dict[str, list[float]] = {}
    for r in (rows.to_dict("records") if hasattr(rows, "to_dict") else rows):
        if r.get("source") == "op" and bool(r.get("ancestors")) == nested:
            calls.setdefault(r["name"], []).append(float(r["self_cpu_us"]))
    excess = [v[0] - statistics.median(v[1:]) for v in calls.values() if len(v) > 1]
    if len(excess) < 2:
        return 0.0, 0.0
    typical = statistics.median(excess[1:])
    return max(typical, 0.0), max(excess[0] - typical, 0.0)


def estimate_cprofile(n: int, callee_self: float, wall: float, profiled_wall: float) -> EventCost:
    """cProfile: ``in`` from the trivial callee's tottime, ``out`` the rest of the walls' difference."""
    in_us = max(callee_self, 0.0) / n * 1e6
    total_us = max((profiled_wall - wall) / n * 1e6, in_us)
    return EventCost(in_us, total_us - in_us, total_us, in_us, total_us)


def _torch_cost(record_shapes: bool, with_flops: bool, memory: bool, n: int, rounds: int) -> tuple[EventCost, dict]:
    from .torch_backend import TorchSettings, capture

    x = torch.randn(16)
    tensors = [x] * n

    def nested(_):
        return torch._foreach_neg(tensors)

    def noop(_):                    # same dtype: returns x itself
        for _i in range(n):
            x.to(torch.float32)

    def flat(_):
        for _i in range(n):
            torch.neg(x)

    ops = (torch.neg, torch.abs, torch.sin, torch.cos, torch.exp, torch.tanh, torch.sigmoid, torch.relu,
           torch.floor, torch.ceil)
    foreach = (torch._foreach_neg, torch._foreach_abs, torch._foreach_sin, torch._foreach_cos, torch._foreach_exp,
               torch._foreach_tanh, torch._foreach_sigmoid, torch._foreach_floor, torch._foreach_ceil,
               torch._foreach_sqrt)
    few = [x.abs() + 1] * 8

    def firsts(_):
        for _i in range(8):
            for op in ops:
                op(x)

    def nested_firsts(_):
        for op in foreach:
            op(few)

    settings = TorchSettings(record_shapes, with_flops, memory)
    got: dict[str, list[float]] = {k: [] for k in ("top_self", "nested_parent_self", "nested_children_self",
                                                   "nested_wall", "flat_wall", "flat_profiled_wall",
                                                   "nested_profiled_wall")}
    first: dict[str, list[float]] = {"first_call_us": [], "capture_first_us": [], "nested_first_call_us": []}
    with torch.no_grad():
        for fn in (nested, noop, flat, firsts, nested_firsts):
            fn(None)
            capture(fn, None, "cpu", settings)   # the first capture initialises the profiler
        for _r in range(rounds):
            got["nested_wall"].append(_best(nested))
            got["flat_wall"].append(_best(flat))
            cap = capture(nested, None, "cpu", settings)
            got["nested_parent_self"].append(_self_s(cap.rows, nested=False))
            got["nested_children_self"].append(_self_s(cap.rows, nested=True))
            got["nested_profiled_wall"].append(cap.wall_s)
            got["top_self"].append(_self_s(capture(noop, None, "cpu", settings).rows, nested=False))
            got["flat_profiled_wall"].append(capture(flat, None, "cpu", settings).wall_s)
            top, start = first_call_excess(capture(firsts, None, "cpu", settings).rows, nested=False)
            first["first_call_us"].append(top)
            first["capture_first_us"].append(start)
            first["nested_first_call_us"].append(
                first_call_excess(capture(nested_firsts, None, "cpu", settings).rows, nested=True)[0])
    low = {k: min(v) for k, v in got.items()}   # the least disturbed of the rounds
    cost = estimate_torch(n, **low)
    for k, v in first.items():                  # one excess per round: the median round
        setattr(cost, k, statistics.median(v))
    return cost, {**low, **{k: statistics.median(v) for k, v in first.items()}}


def _leaf(i):
    return i


def _driver(n):
    leaf = _leaf
    for i in range(n):
        leaf(i)


def _cprofile_cost(n: int, rounds: int) -> tuple[EventCost, dict]:
    from .cprofile_backend import capture, conflict

    if conflict() is not None:   # an outer profiler holds the slot: nothing to measure
        return EventCost(0.0, 0.0, 0.0), {"conflict": conflict()}
    walls, profiled, leaf = [], [], []
    _driver(n)
    for _r in range(rounds):
        walls.append(_best(lambda _: _driver(n)))
        cap = capture(lambda _: _driver(n), None, "cpu")
        profiled.append(cap.wall_s)
        leaf.append(sum(r["self_cpu_us"] for r in cap.rows if r["name"].endswith(":_leaf")) / 1e6)
    raw = {"wall": min(walls), "profiled_wall": min(profiled), "callee_self": min(leaf)}
    return estimate_cprofile(n, raw["callee_self"], raw["wall"], raw["profiled_wall"]), raw


def _best(fn: Callable, k: int = 3) -> float:
    """Best of ``k`` calls in this thread's CPU seconds (see the module docstring)."""
    best = float("inf")
    for _ in range(k):
        start = time.thread_time()
        fn(None)
        best = min(best, time.thread_time() - start)
    return best


def _self_s(rows, nested: bool) -> float:
    """Recorded host self time of a capture's top-level (or nested) op rows, in seconds."""
    total = 0.0
    for r in (rows.to_dict("records") if hasattr(rows, "to_dict") else rows):
        if r.get("source") in ("op", "runtime") and bool(r.get("ancestors")) == nested:
            total += float(r.get("self_cpu_us", 0.0))
    return total / 1e6


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and all(isinstance(data.get(k), dict) for k in ("torch", "cprofile"))
    return data if ok and data.get("version") == CALIBRATION_VERSION else None


