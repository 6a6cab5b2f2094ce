"""torch.profiler backend: runs one component call and returns its event rows, wall time and facts.

The profile is turned into rows through its Chrome trace (torch writes it in C++; it is read back
by nscharacterize/profiler/chrome_trace.py), not through ``prof.events()``, which builds a Python object per event
and took 21-26 s of a 60 s CI run. The garbage collector is paused while that happens: the work
allocates many short-lived containers and no reference cycles, and a collection in the middle walks
every object the process holds. The measured call itself runs exactly as before.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd
import torch
from torch.profiler import ProfilerActivity, profile, record_function

from . import chrome_trace, function_events, trace_events
from .gc_pause import gc_paused
from .timing import synchronize
from .torch_compat import events_are_lazy, export_trace


@dataclass
class TorchSettings:
    record_shapes: bool = True
    with_flops: bool = True
    memory: bool = True
    chrome_trace: str | None = None   # a path: export the Chrome trace of this call there
    via_trace: bool = True            # False: the original prof.events() path (reference, tests)


@dataclass
class Capture:
    output: Any
    rows: pd.DataFrame | list[dict]
    wall_s: float          # wall time of the call inside the profiler (synchronised)
    peak_mem_bytes: float  # peak of what the call allocated over what was allocated before (NaN: not recorded)
    facts: trace_events.CallFacts | None = field(default=None)  # device facts (trace path only)
    resident_mem_bytes: float = float("nan")  # CUDA: allocated before the call (weights, inputs)


def capture(fn: Callable[[Any], Any], x: Any, device: str, settings: TorchSettings) -> Capture:
    prof = start_session(device, settings)
    try:
        synchronize(device)
        start = time.perf_counter()
        out = fn(x)
        synchronize(device)
        wall = time.perf_counter() - start
    finally:
        with _quiet_native_stderr():
            prof.stop()
    with gc_paused():
        trace = None
        if settings.via_trace and (device == "cuda" or events_are_lazy()):
            try:
                trace = _trace_of(prof, settings.chrome_trace)
            except (chrome_trace.TraceError, RuntimeError, OSError):
                trace = None  # a torch build that cannot export: the FunctionEvent path below
        if trace is None:
            if settings.chrome_trace:
                export_trace(prof, settings.chrome_trace)
            peak = function_events.peak_memory(prof, device) if settings.memory else float("nan")
            return Capture(out, function_events.rows(prof, device), wall, peak)
        del prof
        rows, facts = trace_events.rows(trace, device, settings.with_flops)
        peak = trace_events.peak_added_bytes(trace, device) if settings.memory else float("nan")
    return Capture(out, rows, wall, peak, facts)


# ---- sessions spanning several calls (the spooled path: nscharacterize/profiler/spool.py) --------
def start_session(device: str, settings: TorchSettings):
    """A started profiler, with the settings ``capture`` uses."""
    activities = [ProfilerActivity.CPU]
    if device == "cuda":
        activities.append(ProfilerActivity.CUDA)
    prof = profile(activities=activities, record_shapes=settings.record_shapes,
                   with_flops=settings.with_flops, profile_memory=settings.memory)
    with _quiet_native_stderr(), _inductor_left_unimported():
        prof.start()
    return prof


@contextlib.contextmanager
def _inductor_left_unimported():
    """torch.profiler's start asks ``hasattr(torch, "_inductor")`` (torch >= 2.5: are inductor's
    CUDA graphs on?), and torch's lazy module attribute imports torch._inductor to answer: about
    1 s, once per process, most of the first profiled sample's cost and the tool's biggest start-up
    item on configs/ci.yaml (issue 23). Where inductor is not loaded no compiled code can use its
    CUDA graphs, so the profiler keeps its default answer (no CUDA graphs) without the import; a run
    that compiled has loaded inductor and is asked as before."""
    lazy = torch.__dict__.get("__getattr__")
    if lazy is None or "torch._inductor" in sys.modules:
        yield
        return

    def without_inductor(name: str):
        if name == "_inductor":
            raise AttributeError(name)
        return lazy(name)

    torch.__getattr__ = without_inductor  # type: ignore[attr-defined]
    try:
        yield
    finally:
        torch.__getattr__ = lazy  # type: ignore[attr-defined]


def stop_session(prof) -> None:
    with _quiet_native_stderr():
        prof.stop()


def export_session(prof, path: str) -> None:
    export_trace(prof, path)


def timed_in_range(fn: Callable[[Any], Any], x: Any, device: str, name: str) -> tuple[Any, float]:
    """``fn(x)`` inside a profiler range called ``name``, timed as ``capture`` times it (the
    device synchronised before and after, inside the range so its kernels fall in it)."""
    with record_function(name):
        synchronize(device)
        start = time.perf_counter()
        out = fn(x)
        synchronize(device)
        wall = time.perf_counter() - start
    return out, wall


def _trace_of(prof, keep_at: str | None) -> chrome_trace.Trace:
    """Exports the profile (to ``keep_at`` when the user asked for the trace, else to a temporary
    file that is removed) and reads it back."""
    if keep_at:
        export_trace(prof, keep_at)
        return chrome_trace.load(keep_at)
    fd, path = tempfile.mkstemp(prefix="nscharacterize-", suffix=".json")
    os.close(fd)
    try:
        export_trace(prof, path)
        return chrome_trace.load(path)
    finally:
        os.unlink(path)


@contextlib.contextmanager
def _quiet_native_stderr():
    """Kineto logs two lines to the C-level stderr on every start and stop; one profile per
    component and sample would bury the progress bar. Only start/stop are silenced, never the
    profiled code."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
