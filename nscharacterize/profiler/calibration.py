"""What recording costs: the profilers' time per recorded event on this machine and torch version.

torch.profiler and cProfile do not slow every op alike. Their cost is mostly a constant per
recorded event (a few hundred nanoseconds to a few microseconds here), so a 500 us matrix product
is inflated by a fraction of a percent while a 1 us scalar add is inflated several times. Where
that cost lands is what the compensation (nscharacterize/attribution/compensation.py) needs:

* ``in_us``: the part inside the event's own interval, i.e. in its own recorded self time (the
  end of the enter callback, the start of the exit callback, the allocation record of the output
  when memory is profiled);
* ``out_us``: the part outside the event's interval but inside its parent's, i.e. in the
  parent's self time. For a top-level op it falls between ops, where the unprofiled wall never
  saw it, so the remainder (wall minus ops) leaves it out by itself;
* ``total_us``: all a top-level event adds to the profiled wall (reported, not subtracted).

Each is measured inside one profiled call, so a busy machine slows numerator and denominator
alike:

* ``out_us``: ``torch._foreach_neg`` over N tensors is one op whose N ``aten::neg`` run from its
  C++ loop; the parent's self time per child is its loop step (tens of nanoseconds) plus
  ``out_us``: an upper bound by that step;
* ``in_us``: a Python loop of N ``torch.empty(16)``, an op that does almost nothing but allocate
  its output; its self time per call is ``in_us`` plus the allocation (about 0.1 us): an upper
  bound by that, and the right amount for the common op that allocates one output;
* ``total_us``: the same loop's profiled wall minus its unprofiled wall, per call (the only
  cross-run number, so the noisiest: the lowest of interleaved rounds).

cProfile: a Python loop calling a trivial function N times. ``in_us`` is the callee's tottime per
call (its body is one return: an upper bound by it), ``total_us`` the walls' difference per call,
``out_us`` the rest, which lands in the caller's tottime.

Each number is the median over rounds. The result is cached per machine
(``ceilings.MACHINE_FIELDS``) and profiler settings, like the ceilings, and goes into the
manifest, so ``report`` re-derives the attribution from the run alone.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .ceilings import MACHINE_FIELDS, cache_dir, machine_hash

CALIBRATION_VERSION = 1   # bump when the method changes: old cache entries are measured again
N_EVENTS = 256            # events per kernel: long enough to dwarf the one Python call, short enough to dodge preemption
ROUNDS = 7


@dataclass
class EventCost:
    """One profiler's cost per recorded event, in microseconds."""
    in_us: float
    out_us: float
    total_us: float


def settings_key(record_shapes: bool, with_flops: bool, memory: bool) -> str:
    return f"shapes={int(record_shapes)},flops={int(with_flops)},memory={int(memory)}"


def profiler_cost(fp: dict, record_shapes: bool = True, with_flops: bool = True, memory: bool = True,
                  threads: int | None = None) -> dict:
    """The per-event costs for this machine and these profiler settings: from the cache where
    measured before, else measured now (about 1-3 s) and cached."""
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
    _write(path, measured)
    return dict(measured, cache_file=str(path))


def measure(record_shapes: bool = True, with_flops: bool = True, memory: bool = True,
            threads: int | None = None, n: int = N_EVENTS, rounds: int = ROUNDS) -> dict:
    """Measures both profilers now; see the module docstring for the method."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        torch_cost, torch_raw = _torch_cost(record_shapes, with_flops, memory, n, rounds)
        py_cost, py_raw = _cprofile_cost(n, rounds)
    finally:
        torch.set_num_threads(previous)
    return {"torch": asdict(torch_cost), "cprofile": asdict(py_cost), "n_events": n, "rounds": rounds,
            "raw": {"torch": torch_raw, "cprofile": py_raw}}


def estimate_torch(n: int, nested_parent_self: float, flat_self: float, flat_wall: float,
                   flat_profiled_wall: float) -> EventCost:
    """The arithmetic of the torch calibration, seconds in, microseconds per event out.

    ``nested_parent_self``: the self time of the one parent op around N children (``out``);
    ``flat_self``: the self time of N near-empty top-level ops (``in``); ``flat_wall`` and
    ``flat_profiled_wall``: that loop unprofiled and profiled (``total``)."""
    out_us = max(nested_parent_self, 0.0) / n * 1e6
    in_us = max(flat_self, 0.0) / n * 1e6
    total_us = max((flat_profiled_wall - flat_wall) / n * 1e6, 0.0)
    return EventCost(in_us, out_us, total_us)


def estimate_cprofile(n: int, callee_self: float, wall: float, profiled_wall: float) -> EventCost:
    """cProfile: ``in`` from the trivial callee's tottime, ``out`` the rest of the walls' difference."""
    in_us = max(callee_self, 0.0) / n * 1e6
    total_us = max((profiled_wall - wall) / n * 1e6, in_us)
    return EventCost(in_us, total_us - in_us, total_us)


def _median(values: list[float]) -> float:
    return float(np.median(np.asarray(values, dtype=float)))


def _torch_cost(record_shapes: bool, with_flops: bool, memory: bool, n: int, rounds: int) -> tuple[EventCost, dict]:
    from .torch_backend import TorchSettings, capture

    x = torch.randn(16)
    tensors = [x] * n

    def nested(_):
        return torch._foreach_neg(tensors)

    def flat(_):
        out = None
        for _i in range(n):
            out = torch.empty(16)
        return out

    settings = TorchSettings(record_shapes, with_flops, memory)
    got: dict[str, list[float]] = {"parent_self": [], "flat_self": [], "flat_wall": [], "flat_profiled_wall": []}
    nested(None)
    flat(None)
    capture(flat, None, "cpu", settings)   # the first capture initialises the profiler
    with torch.no_grad():
        for _r in range(rounds):
            got["flat_wall"].append(min(_timed(flat) for _ in range(3)))
            cap = capture(flat, None, "cpu", settings)
            got["flat_self"].append(_self_s(cap.rows, top_level=True))
            got["flat_profiled_wall"].append(cap.wall_s)
            cap = capture(nested, None, "cpu", settings)
            got["parent_self"].append(_self_s(cap.rows, top_level=True))
    m = {k: _median(v) for k, v in got.items()}
    m["flat_wall"] = min(got["flat_wall"])
    m["flat_profiled_wall"] = min(got["flat_profiled_wall"])
    return estimate_torch(n, m["parent_self"], m["flat_self"], m["flat_wall"], m["flat_profiled_wall"]), m


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
        walls.append(min(_timed(lambda _: _driver(n)) for _ in range(3)))
        cap = capture(lambda _: _driver(n), None, "cpu")
        profiled.append(cap.wall_s)
        leaf.append(sum(r["self_cpu_us"] for r in cap.rows if r["name"].endswith(":_leaf")) / 1e6)
    raw = {"wall": min(walls), "profiled_wall": min(profiled), "callee_self": _median(leaf)}
    return estimate_cprofile(n, raw["callee_self"], raw["wall"], raw["profiled_wall"]), raw


def _timed(fn: Callable) -> float:
    start = time.perf_counter()
    fn(None)
    return time.perf_counter() - start


def _self_s(rows, top_level: bool) -> float:
    """Recorded host self time of a capture's (top-level) op rows, in seconds."""
    total = 0.0
    for r in (rows.to_dict("records") if hasattr(rows, "to_dict") else rows):
        if r.get("source") in ("op", "runtime") and (not top_level or not r.get("ancestors")):
            total += float(r.get("self_cpu_us", 0.0))
    return total / 1e6


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and all(isinstance(data.get(k), dict) for k in ("torch", "cprofile"))
    return data if ok and data.get("version") == CALIBRATION_VERSION else None


def _write(path: Path, data: dict) -> None:
    from nscharacterize.core.fileio import atomic_write
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2, default=str)))
    except OSError:
        pass   # an unwritable cache only costs a re-measurement next time
