"""Training or inference steps of a torch.profiler trace (its ``ProfilerStep#N`` ranges) as samples.

A trace recorded with ``torch.profiler.schedule`` holds one ``ProfilerStep#N`` range per active
step. Each kept step becomes one sample of the imported component, so spreads, the figures' error
bars and the regression gate work on imported traces as on live runs. The first ``warmup`` steps
are left out (allocator growth, cuDNN autotuning, lazy initialisation, NCCL communicator set-up),
but never every step: a trace with ``warmup`` steps or fewer keeps them all, and says so. A step
range with no op and no device work in it (what a final ``prof.step()`` opens just before the
profiler stops) is not counted as a step at all.

Which step an event belongs to:

- a host event: the step whose range contains its start; step i runs from its range's start to
  the next step's start, the last step to the end of its range;
- a device event (kernel, memcpy, memset): the step of the host event that launched it, since a
  kernel queued at the end of step i may run after step i+1 has started on the host; a device
  event with no known launcher goes by its own start;
- events before the first kept step or after the last are in no sample.

A step's wall time is its window (start to the next step's start; the last one until its range
or the last of its device work ends, whichever is later).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .chrome_trace import Trace, name_mask

STEP = re.compile(r"ProfilerStep#(\d+)")
DEFAULT_WARMUP = 1


@dataclass
class Steps:
    numbers: list[int]          # the kept steps' numbers (the samples)
    starts: np.ndarray          # per kept step, its window in the trace's microseconds
    ends: np.ndarray
    host_sample: np.ndarray     # per host event of the trace: its step number, -1 for none
    device_sample: np.ndarray   # per device event
    python_sample: np.ndarray   # per Python function event (with_stack traces)
    found: int                  # ProfilerStep ranges in the trace that hold work
    skipped: int                # of which left out as warm-up
    empty: int = 0              # ranges holding no op and no device work, left out before counting

    @property
    def walls_s(self) -> np.ndarray:
        return (self.ends - self.starts) / 1e6


def split_steps(trace: Trace, warmup: int = DEFAULT_WARMUP) -> Steps | None:
    """The kept steps of ``trace``, or None when it has no ProfilerStep range (one sample)."""
    host = trace.host
    if host.empty:
        return None
    names = host["name"].to_numpy()
    is_step = name_mask(names, lambda n: n.startswith("ProfilerStep#"))
    if not is_step.any():
        return None
    steps = host[is_step]
    # One range per step number (some torch versions write a step twice: as op and as range).
    numbers = np.array([int(m.group(1)) if (m := STEP.match(n)) else -1 for n in steps["name"]])
    ok = numbers >= 0
    if not ok.any():
        return None
    by_number: dict[int, list[float]] = {}
    for n, ts, end in zip(numbers[ok], steps["ts"].to_numpy()[ok], steps["end"].to_numpy()[ok]):
        cur = by_number.setdefault(int(n), [ts, end])
        cur[0], cur[1] = min(cur[0], ts), max(cur[1], end)
    order = sorted(by_number, key=lambda n: by_number[n][0])
    dev = trace.device
    host_ts = host["ts"].to_numpy()
    dev_when = np.zeros(0)
    if len(dev):
        launcher = dev["launcher"].to_numpy()
        dev_when = np.where(launcher >= 0, host_ts[np.maximum(launcher, 0)], dev["ts"].to_numpy())

    def windows(order: list[int]):
        starts = np.array([by_number[n][0] for n in order])
        range_ends = np.array([by_number[n][1] for n in order])
        host_idx = _window(host_ts, starts, range_ends[-1])
        host_idx[is_step] = -1   # the step ranges are not work inside a step
        dev_idx = _window(dev_when, starts, range_ends[-1]) if len(dev) else np.zeros(0, dtype=np.int64)
        return starts, range_ends, host_idx, dev_idx

    starts, range_ends, host_idx, dev_idx = windows(order)
    # A step holding no op and no device work (the range a last prof.step() opens just before the
    # profiler stops) is not a sample: kept, it would be the only sample of a two-step trace.
    work = np.bincount(host_idx[host_idx >= 0], minlength=len(order)) + \
        np.bincount(dev_idx[dev_idx >= 0], minlength=len(order))
    empty = int((work == 0).sum())
    if 0 < empty < len(order):
        order = [n for n, w in zip(order, work) if w]
        starts, range_ends, host_idx, dev_idx = windows(order)
    else:
        empty = 0
    found = len(order)
    skipped = min(max(int(warmup), 0), found - 1)   # never every step
    keep = np.arange(found) >= skipped
    numbers_arr = np.array(order, dtype=np.int64)
    host_sample = np.where((host_idx >= 0) & keep[np.maximum(host_idx, 0)], numbers_arr[np.maximum(host_idx, 0)], -1)
    device_sample = np.where((dev_idx >= 0) & keep[np.maximum(dev_idx, 0)], numbers_arr[np.maximum(dev_idx, 0)], -1)
    py_idx = _window(trace.python["ts"].to_numpy(), starts, range_ends[-1]) if len(trace.python) \
        else np.zeros(0, dtype=np.int64)
    python_sample = np.where((py_idx >= 0) & keep[np.maximum(py_idx, 0)], numbers_arr[np.maximum(py_idx, 0)], -1)

    ends = np.append(starts[1:], range_ends[-1])
    if len(dev) and (dev_idx == found - 1).any():   # the last step lasts until its device work ends
        ends[-1] = max(ends[-1], float(dev["end"].to_numpy()[dev_idx == found - 1].max()))
    return Steps([int(n) for n in order[skipped:]], starts[skipped:], ends[skipped:], host_sample, device_sample,
                 python_sample, found, skipped, empty)


def _window(ts: np.ndarray, starts: np.ndarray, last_end: float) -> np.ndarray:
    """Index of the step window holding each time, -1 before the first step or after the last."""
    idx = np.searchsorted(starts, ts, side="right") - 1
    idx[(idx == len(starts) - 1) & (ts >= last_end)] = -1
    return idx.astype(np.int64)
