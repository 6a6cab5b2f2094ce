"""Finished samples kept raw on disk, parsed together in batches (issue 23).

Why: turning one profiled call's trace into event rows costs tens of milliseconds whatever the
call (pandas' fixed cost per table, per classification, per append), several times the whole
work of a small sample. Parsing many samples' traces as one table costs that once per batch.
Why on disk: a sample counts as finished only once it survives the process (SIGKILL, OOM,
``os._exit`` in a workload; docs/architecture.md, "Faults"). What torch writes at the end of a
profile (its Chrome trace, in C++, a few milliseconds) plus a small JSON sidecar is that record;
``report`` on a killed run parses whatever is left here.

Per sample (key: a run-wide sequence number, so names sort in the order samples finished):

- ``KEY.N.json``: the Chrome trace of the N-th profiler session of the sample's profiled pass.
  One session spans each run of consecutive torch components (a cProfile component is measured
  outside any session); each torch call runs inside a ``record_function`` range named
  ``MARKER + KEY.POSITION``, by which its events are told apart;
- ``KEY.sample.json``: written last, atomically: the workload, sample, the device, each call's
  component, its timings and (cProfile) its rows. A sample without it is unfinished and ignored.

Parsing a batch reads every trace as one (``chrome_trace.load_many``), assigns each event to the
range whose span holds its start (a device event: its launcher's start, as for
``ProfilerStep#`` ranges in nscharacterize/profiler/trace_steps.py), and gives
``trace_events.rows`` the call of each event: the rows are those each call's own profile gave,
the ranges themselves left out (they are annotations, never an op's ancestor).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import chrome_trace, trace_events
from .events import TIMING_COLUMNS, events_frame

MARKER = "nscharacterize.call#"
SIDECAR = ".sample.json"


@dataclass
class SpooledSample:
    """What the sample loop hands over after writing a sample's traces."""
    workload: str
    sample: int
    device: str
    with_flops: bool
    memory: bool
    traces: list[str] = field(default_factory=list)      # file names in the spool folder
    calls: list[dict] = field(default_factory=list)      # per component: timing row, marker, rows


class Spool:
    """The spool folder of one run (created on the first sample)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._seq = 0

    def next_key(self) -> str:
        """A new sample's key; continues after any sample already here."""
        if self._seq == 0 and self.path.is_dir():
            keys = [int(p.name.split(".")[0]) for p in self.path.glob("*" + SIDECAR) if p.name.split(".")[0].isdigit()]
            self._seq = max(keys, default=-1) + 1
        key = f"{self._seq:09d}"
        self._seq += 1
        self.path.mkdir(parents=True, exist_ok=True)
        return key

    def trace_path(self, key: str, n: int) -> Path:
        return self.path / f"{key}.{n}.json"

    def finish(self, key: str, sample: SpooledSample) -> None:
        """Writes the sidecar (atomically): from here on the sample is finished."""
        tmp = self.path / f"{key}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(sample.__dict__, fh, default=_plain)
        os.replace(tmp, self.path / f"{key}{SIDECAR}")

    def pending(self) -> list[Path]:
        """Sidecars of finished samples not yet parsed, oldest first."""
        if not self.path.is_dir():
            return []
        return sorted(self.path.glob("*" + SIDECAR))

    def parse(self, sidecars: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(event rows, timings) of these samples, as their per-call profiles would have given."""
        return parse_samples([SpooledSample(**json.loads(p.read_text(encoding="utf-8"))) for p in sidecars],
                             self.path)

    def remove(self, sidecars: list[Path]) -> None:
        """Forgets samples whose rows are saved (their traces, then the sidecar)."""
        for side in sidecars:
            key = side.name[:-len(SIDECAR)]
            for trace in self.path.glob(f"{key}.*.json"):
                if trace != side:
                    trace.unlink(missing_ok=True)
            side.unlink(missing_ok=True)

    def clear(self) -> None:
        """Removes the folder with whatever is in it (unfinished samples' traces included)."""
        if self.path.is_dir():
            for p in self.path.iterdir():
                p.unlink(missing_ok=True)
            try:
                self.path.rmdir()
            except OSError:
                pass


def _plain(value):
    """JSON for numpy scalars in cProfile rows or timings."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def parse_samples(samples: list[SpooledSample], folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not samples:
        return events_frame([]), pd.DataFrame(columns=TIMING_COLUMNS)
    device = samples[0].device
    # Every call of the batch, in the order the samples ran them: index = call id.
    calls = [(s, c) for s in samples for c in s.calls]
    call_of_marker = {c["marker"]: i for i, (_s, c) in enumerate(calls) if c.get("marker")}
    files = [folder / t for s in samples for t in s.traces]
    frames: list = []
    timings = [dict(c["timing"]) for _s, c in calls]
    if files and call_of_marker:
        trace = chrome_trace.load_many(files)
        host_call, device_call, windows = _calls_of_events(trace, call_of_marker)
        rows, _facts = trace_events.rows(trace, device, samples[0].with_flops, host_sample=host_call,
                                         device_sample=device_call)
        ci = rows["sample"].to_numpy()
        rows["_call"] = ci
        rows["workload"] = np.array([s.workload for s, _c in calls], dtype=object)[ci]
        rows["component"] = np.array([c["component"] for _s, c in calls], dtype=object)[ci]
        rows["kind"] = np.array([c["kind"] for _s, c in calls], dtype=object)[ci]
        rows["sample"] = np.array([s.sample for s, _c in calls], dtype=np.int64)[ci]
        frames.append(rows)
        _fill_facts(trace, device, samples[0].memory, device_call, windows, calls, timings)
    loose = [dict(r, workload=s.workload, component=c["component"], kind=c["kind"], sample=s.sample, _call=i)
             for i, (s, c) in enumerate(calls) if c.get("rows") for r in c["rows"]]
    if loose:
        frames.append(pd.DataFrame(loose))
    if frames:
        table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        # The rows in the order the calls ran (within a call: host rows, then device rows, as before).
        table = table.iloc[np.argsort(table["_call"].to_numpy(), kind="stable")].drop(columns="_call")
        events = events_frame([table.reset_index(drop=True)])
    else:
        events = events_frame([])
    return events, pd.DataFrame(timings, columns=TIMING_COLUMNS)


def _calls_of_events(trace: chrome_trace.Trace, call_of_marker: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """The call id of each host and device event (-1: none, the ranges themselves included) and
    each call's window (start, end) in the trace's microseconds."""
    host = trace.host
    names = host["name"].to_numpy()
    is_marker = chrome_trace.name_mask(names, lambda n: n.startswith(MARKER))
    idx = np.flatnonzero(is_marker)
    ids = np.array([call_of_marker.get(names[i][len(MARKER):], -1) for i in idx], dtype=np.int64)
    starts, ends = host["ts"].to_numpy()[idx], host["end"].to_numpy()[idx]
    order = np.argsort(starts, kind="stable")
    starts, ends, ids = starts[order], ends[order], ids[order]
    windows = {int(c): (float(s), float(e)) for c, s, e in zip(ids, starts, ends) if c >= 0}

    def which(ts: np.ndarray) -> np.ndarray:
        k = np.searchsorted(starts, ts, side="right") - 1
        ok = (k >= 0) & (ts <= ends[np.maximum(k, 0)]) if len(starts) else np.zeros(len(ts), dtype=bool)
        return np.where(ok, ids[np.maximum(k, 0)] if len(starts) else -1, -1).astype(np.int64)

    host_call = which(host["ts"].to_numpy())
    host_call[is_marker] = -1
    dev = trace.device
    if len(dev):
        launcher = dev["launcher"].to_numpy()
        when = np.where(launcher >= 0, host["ts"].to_numpy()[np.maximum(launcher, 0)], dev["ts"].to_numpy())
        device_call = which(when)
    else:
        device_call = np.zeros(0, dtype=np.int64)
    return host_call, device_call, windows


def _fill_facts(trace: chrome_trace.Trace, device: str, memory: bool, device_call: np.ndarray, windows: dict,
                calls: list, timings: list[dict]) -> None:
    """Per torch call: kernel launches, median kernel time and (host memory) the peak added, as
    ``trace_events.rows`` and ``peak_added_bytes`` give them for the call's own profile."""
    dev = trace.device
    kernels = (dev["kind"] == "kernel").to_numpy() if len(dev) else np.zeros(0, dtype=bool)
    durs = dev["dur"].to_numpy() if len(dev) else np.zeros(0)
    by_call: dict[int, list[float]] = {}
    for c, d in zip(device_call[kernels].tolist(), durs[kernels].tolist()):
        if c >= 0:
            by_call.setdefault(c, []).append(d)
    mem = trace.memory
    if len(mem):
        order = np.argsort(mem["ts"].to_numpy(), kind="stable")
        m_ts = mem["ts"].to_numpy()[order]
        m_bytes = mem["bytes"].to_numpy()[order]
        m_cuda = (mem["device_type"].to_numpy() != 0)[order]   # 0 is the CPU in c10's DeviceType
        mine = m_cuda if device == "cuda" else ~m_cuda
        m_addr = mem["addr"].to_numpy()[order]
    for i, (_s, c) in enumerate(calls):
        if not c.get("marker") or i not in windows:
            continue
        row = timings[i]
        found = by_call.get(i, [])
        row["kernel_launches"] = len(found)
        row["median_kernel_us"] = float(np.median(found)) if found else float("nan")
        if device == "cuda":
            continue   # CUDA memory is read from the allocator around the call (session.py)
        if not memory:
            row["peak_mem_bytes"] = float("nan")
        elif not len(mem):
            row["peak_mem_bytes"] = 0.0
        else:
            lo, hi = np.searchsorted(m_ts, windows[i][0], side="left"), np.searchsorted(m_ts, windows[i][1], side="left")
            row["peak_mem_bytes"] = _peak_in_window(m_bytes[lo:hi][mine[lo:hi]], m_addr[lo:hi][mine[lo:hi]])


def _peak_in_window(sizes: np.ndarray, addrs: np.ndarray) -> float:
    """The running sum's peak over one call's allocation records, as a profile of that call alone
    records them: a free of a block allocated before the call is not in such a profile (torch
    knows no size for it), so it is left out here too."""
    if not len(sizes):
        return 0.0
    live: set = set()
    running = peak = 0.0
    for size, addr in zip(sizes.tolist(), addrs.tolist()):
        if size >= 0:
            live.add(addr)
        elif addr in live:
            live.discard(addr)
        else:
            continue
        running += size
        peak = max(peak, running)
    return float(max(peak, 0.0))
