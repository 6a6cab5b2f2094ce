"""Timeline walk of one profiled call: who holds each microsecond, before anything is aggregated.

The three CUDA views (nscharacterize/attribution/views.py) need per-event amounts that only start and end times
can give; events are summed per key afterwards (nscharacterize/profiler/events.py), so these amounts are computed
here, on the interval tables of one trace (nscharacterize/profiler/chrome_trace.py), and stored as two columns:

- ``gpu_busy_us`` of a device event (kernel, memcpy, memset): its share of the time the GPU runs
  anything. Where k device events overlap (several streams), each gets 1/k of that stretch, so the
  shares add up to the union of the device intervals: overlapping streams are counted once.
- ``gpu_idle_self_us`` of a host event: its self time (the time it is the innermost host event of
  its thread) that falls where the GPU runs nothing. Where host events of t threads are running
  at once, each thread gets 1/t, so the amounts add up to the idle time during which some host
  event runs; the rest of the idle time is Python and framework code outside any event.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def fair_shares(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Each interval's share of the union of all intervals, overlaps split evenly."""
    starts = np.asarray(starts, dtype=float)
    ends = np.maximum(np.asarray(ends, dtype=float), starts)
    if len(starts) == 0:
        return np.zeros(0)
    bounds = np.unique(np.concatenate([starts, ends]))
    si, ei = np.searchsorted(bounds, starts), np.searchsorted(bounds, ends)
    active = _active(len(bounds), si, ei)
    rate = np.where(active > 0, np.diff(bounds) / np.maximum(active, 1), 0.0)
    cum = np.concatenate([[0.0], np.cumsum(rate)])
    return cum[ei] - cum[si]


def union_length(starts: np.ndarray, ends: np.ndarray) -> float:
    """Length of the union of intervals (the GPU busy time when they are device intervals)."""
    return float(fair_shares(starts, ends).sum())


def _active(n_bounds: int, si: np.ndarray, ei: np.ndarray) -> np.ndarray:
    """How many intervals cover each elementary segment [bounds[j], bounds[j+1])."""
    delta = np.zeros(n_bounds + 1)
    np.add.at(delta, si, 1.0)
    np.add.at(delta, ei, -1.0)
    return np.cumsum(delta)[: n_bounds - 1]


@dataclass
class Walk:
    gpu_busy_us: np.ndarray        # per device event
    gpu_idle_self_us: np.ndarray   # per host event
    busy_us: float                 # union of device intervals
    span_us: float                 # first start to last end of host and device intervals


def walk(host_ts, host_end, host_tid, host_parent, dev_ts, dev_end) -> Walk:
    """Computes both per-event amounts for one trace (see the module docstring)."""
    host_ts, host_end = np.asarray(host_ts, float), np.asarray(host_end, float)
    dev_ts, dev_end = np.asarray(dev_ts, float), np.asarray(dev_end, float)
    host_parent = np.asarray(host_parent, dtype=np.int64)
    busy_share = fair_shares(dev_ts, dev_end)
    every = [a for a in (host_ts, host_end, dev_ts, dev_end) if len(a)]
    if not every:
        return Walk(busy_share, np.zeros(len(host_ts)), 0.0, 0.0)
    span = float(max(a.max() for a in every) - min(a.min() for a in every))
    if len(host_ts) == 0:
        return Walk(busy_share, np.zeros(0), float(busy_share.sum()), span)
    top = host_parent < 0   # top-level host events: disjoint within a thread
    bounds = np.unique(np.concatenate(every))
    seg = np.diff(bounds)
    busy = _active(len(bounds), np.searchsorted(bounds, dev_ts), np.searchsorted(bounds, dev_end)) > 0 \
        if len(dev_ts) else np.zeros(len(seg), dtype=bool)
    threads = _active(len(bounds), np.searchsorted(bounds, host_ts[top]), np.searchsorted(bounds, host_end[top]))
    weight = np.where(~busy & (threads > 0), 1.0 / np.maximum(threads, 1), 0.0)
    cum = np.concatenate([[0.0], np.cumsum(seg * weight)])
    idle_in_span = np.interp(host_end, bounds, cum) - np.interp(host_ts, bounds, cum)
    child = np.zeros(len(host_ts))
    has_parent = host_parent >= 0
    np.add.at(child, host_parent[has_parent], idle_in_span[has_parent])
    return Walk(busy_share, np.maximum(idle_in_span - child, 0.0), float(busy_share.sum()), span)


def overlap_length(a_starts, a_ends, b_starts, b_ends) -> float:
    """Length of the time covered by both interval sets (the union of each, intersected):
    |A| + |B| - |A or B|. Communication overlapped with compute, as HTA's comm-comp overlap."""
    a_s, a_e = np.asarray(a_starts, float), np.asarray(a_ends, float)
    b_s, b_e = np.asarray(b_starts, float), np.asarray(b_ends, float)
    if len(a_s) == 0 or len(b_s) == 0:
        return 0.0
    both = union_length(np.concatenate([a_s, b_s]), np.concatenate([a_e, b_e]))
    return max(union_length(a_s, a_e) + union_length(b_s, b_e) - both, 0.0)
