"""Drives one workload: warm-up, then per sample the unprofiled timed repeats and one profiled pass.

Unprofiled and profiled passes alternate sample by sample, so slow drift of the machine (thermal,
other load) hits both alike. Every component of a pass gets the previous component's output
from the same pass, as in the real system.

With a spool (nscharacterize/profiler/spool.py; the live run's way), a sample's profiled pass
writes its traces there and the samples are parsed in batches (``BATCH_SECONDS``): one profiler
session per run of consecutive torch components, each call inside a range of its own. Without
one, or when the user asked for a trace per call, each torch call is profiled and parsed alone.
"""
from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from . import cprofile_backend, torch_backend
from .nvtx import component_range, range_name
from .spool import MARKER, Spool, SpooledSample
from .events import TIMING_COLUMNS, events_frame, tagged  # noqa: F401  (TIMING_COLUMNS: re-exported)
from .timing import median, synchronize, timed_call
from .torch_compat import cuda_allocated_bytes, cuda_peak_bytes, reset_cuda_peak
from .torch_backend import TorchSettings

SampleCallback = Callable[[int, pd.DataFrame, pd.DataFrame], None]


@dataclass
class SessionSettings:
    samples: int = 3
    warmup: int = 1
    repeats: int = 3
    device: str = "cpu"
    torch: TorchSettings = field(default_factory=TorchSettings)
    trace_dir: Path | None = None     # write a Chrome trace per (component, sample) here
    nvtx: bool = False                # NVTX range per component of the timed passes (CUDA only; nvtx.py)


@dataclass
class WorkloadProfile:
    label: str
    events: pd.DataFrame
    timings: pd.DataFrame


# A batch of spooled samples is parsed once this much time has passed since the last one (or at
# the end, or when the loop stops): parsing costs a fixed ~100 ms per batch plus a little per
# event, so a longer batch costs less per sample; the rows reach the caller at most this late.
BATCH_SECONDS = 1.0
BATCH_SAMPLES = 512     # and at most this many samples: the batch's trace is held in memory


def profile_workload(workload, label: str, settings: SessionSettings,
                     on_sample: SampleCallback | None = None, spool: Spool | None = None) -> WorkloadProfile:
    """Profiles every sample; ``on_sample(index, events, timings)`` gets the rows of the samples
    up to ``index`` not yet given, as soon as they are parsed (each sample alone, or with a spool
    a batch of them), so the caller can save them. With ``on_sample`` the rows are the caller's
    alone (the profile returned holds none), so memory does not grow with the samples; without it
    they are returned together. With a spool, a stop (an exception, Ctrl-C) still hands over
    every sample that finished before it."""
    device = settings.device
    workload.to_device(device)
    samples = list(workload.make_samples(settings.samples))
    if len(samples) != settings.samples:  # fewer would pass as a complete, ok workload
        raise ValueError(f"workload {label!r}: make_samples({settings.samples}) returned {len(samples)} samples")
    ranges = label if settings.nvtx and device == "cuda" else None  # None: no NVTX call at all
    for i in range(settings.warmup):
        _unprofiled_pass(workload, samples[i % len(samples)], device, ranges, f"w{i}")
    events: list[pd.DataFrame] = []
    timings: list[pd.DataFrame] = []

    def deliver(index: int, sample_events: pd.DataFrame, sample_frame: pd.DataFrame) -> None:
        if on_sample:
            on_sample(index, sample_events, sample_frame)
        else:
            events.append(sample_events)
            timings.append(sample_frame)

    if spool is not None and settings.trace_dir is None and _spool_usable(settings):
        _spooled_loop(workload, label, settings, samples, spool, deliver)
        samples = []
    for index, sample in enumerate(samples):
        reps = [_unprofiled_pass(workload, sample, device, ranges, f"s{index}r{r}")
                for r in range(max(1, settings.repeats))]
        x = sample
        rows: list = []
        sample_timings: list[dict] = []
        for component in workload.components:
            cap = _profiled_call(component, x, device, settings, label, index)
            x = cap.output
            walls = [rep[component.name] for rep in reps]
            wall = median(walls)
            rows.append(tagged(cap.rows, workload=label, component=component.name, kind=component.kind,
                               sample=index))
            sample_timings.append({
                "workload": label, "component": component.name, "kind": component.kind,
                "profiler": component.profiler, "device": device, "sample": index,
                "wall_s": wall, "wall_min_s": min(walls), "wall_max_s": max(walls),
                "repeats": len(walls), "profiled_wall_s": cap.wall_s,
                "overhead": cap.wall_s / wall if wall > 0 else float("nan"),
                "peak_mem_bytes": cap.peak_mem_bytes,
                "resident_mem_bytes": cap.resident_mem_bytes,
                "kernel_launches": cap.facts.kernel_launches if cap.facts else 0,
                "median_kernel_us": cap.facts.median_kernel_us if cap.facts else float("nan")})
        sample_events = events_frame(rows)
        sample_frame = pd.DataFrame(sample_timings, columns=TIMING_COLUMNS)
        deliver(index, sample_events, sample_frame)
    if not events:
        return WorkloadProfile(label, events_frame([]), pd.DataFrame(columns=TIMING_COLUMNS))
    return WorkloadProfile(label, pd.concat(events, ignore_index=True), pd.concat(timings, ignore_index=True))


def _spool_usable(settings: SessionSettings) -> bool:
    """The batched path reads torch's trace, as ``torch_backend.capture`` does by default. CPU
    only for now: on CUDA it has not been checked against the per-call path on a GPU (the code
    handles kernels, their launchers and the allocator's peak, but no GPU was at hand), so GPU
    runs keep one profile per call."""
    from .torch_compat import events_are_lazy

    return settings.torch.via_trace and settings.device == "cpu" and events_are_lazy()


def _spooled_loop(workload, label: str, settings: SessionSettings, samples: list, spool: Spool,
                  deliver: Callable[[int, pd.DataFrame, pd.DataFrame], None]) -> None:
    device = settings.device
    waiting: list = []          # sidecars of finished samples not yet parsed
    last = -1
    since = time.perf_counter()

    def flush() -> None:
        nonlocal since
        if waiting:
            # taken off the list first: a stop raised while the caller saves or refreshes (after
            # the batch is in its logs) must not hand the batch over again from the ``finally``;
            # its traces stay in the spool until it is delivered, for ``recover_spool``
            batch = list(waiting)
            waiting.clear()
            sample_events, sample_frame = spool.parse(batch)
            deliver(last, sample_events, sample_frame)
            spool.remove(batch)
        since = time.perf_counter()

    try:
        for index, sample in enumerate(samples):
            reps = [_unprofiled_pass(workload, sample, device) for _ in range(max(1, settings.repeats))]
            waiting.append(_spooled_pass(workload, label, settings, spool, index, sample, reps))
            last = index
            if time.perf_counter() - since >= BATCH_SECONDS or len(waiting) >= BATCH_SAMPLES:
                flush()
    finally:   # a stop hands over what finished before it (a failed parse: left for `report`)
        flush()


def _spooled_pass(workload, label: str, settings: SessionSettings, spool: Spool, index: int, sample: Any,
                  reps: list[dict]):
    """One profiled pass, written to the spool; returns the sample's sidecar path."""
    device = settings.device
    key = spool.next_key()
    record = SpooledSample(label, index, device, settings.torch.with_flops, settings.torch.memory)
    opts = settings.torch
    prof = None
    x = sample
    try:
        for position, component in enumerate(workload.components):
            walls = [rep[component.name] for rep in reps]
            wall = median(walls)
            timing = {"workload": label, "component": component.name, "kind": component.kind,
                      "profiler": component.profiler, "device": device, "sample": index,
                      "wall_s": wall, "wall_min_s": min(walls), "wall_max_s": max(walls), "repeats": len(walls),
                      "kernel_launches": 0, "median_kernel_us": float("nan"),
                      "resident_mem_bytes": float("nan")}
            call: dict = {"component": component.name, "kind": component.kind, "timing": timing}
            if component.profiler == "cprofile":
                if prof is not None:
                    _end_session(prof, spool.trace_path(key, len(record.traces)))
                    record.traces.append(spool.trace_path(key, len(record.traces)).name)
                    prof = None
                cap = cprofile_backend.capture(component.fn, x, device)
                call["rows"] = cap.rows
                peak, profiled = cap.peak_mem_bytes, cap.wall_s
            else:
                if prof is None:
                    prof = torch_backend.start_session(device, opts)
                call["marker"] = f"{key}.{position}"
                if device == "cuda":
                    synchronize(device)
                    resident = cuda_allocated_bytes(device)
                    reset_cuda_peak(device)
                cap_out, profiled = torch_backend.timed_in_range(component.fn, x, device, MARKER + call["marker"])
                cap = None
                peak = float("nan")
                if device == "cuda":
                    peak = max(cuda_peak_bytes(device) - resident, 0.0)
                    timing["resident_mem_bytes"] = resident
            timing.update(profiled_wall_s=profiled, overhead=profiled / wall if wall > 0 else float("nan"),
                          peak_mem_bytes=peak)
            x = cap.output if cap is not None else cap_out
            record.calls.append(call)
        if prof is not None:
            _end_session(prof, spool.trace_path(key, len(record.traces)))
            record.traces.append(spool.trace_path(key, len(record.traces)).name)
            prof = None
    finally:
        if prof is not None:   # stopped mid-pass: end the session, keep nothing of this sample
            with contextlib.suppress(Exception):
                torch_backend.stop_session(prof)
    spool.finish(key, record)
    return spool.path / f"{key}.sample.json"


def _end_session(prof, path) -> None:
    torch_backend.stop_session(prof)
    torch_backend.export_session(prof, str(path))


def _unprofiled_pass(workload, sample: Any, device: str, ranges: str | None = None,
                     tag: str = "") -> dict[str, float]:
    """``ranges``: the workload label to name NVTX ranges after, or None for none."""
    times = {}
    x = sample
    for component in workload.components:
        with component_range(range_name(ranges, component.name, tag) if ranges is not None else None):
            x, times[component.name] = timed_call(component.fn, x, device)
    return times


def _profiled_call(component, x: Any, device: str, settings: SessionSettings, label: str, index: int):
    if component.profiler == "cprofile":
        return cprofile_backend.capture(component.fn, x, device)
    opts = settings.torch
    if settings.trace_dir is not None:
        settings.trace_dir.mkdir(parents=True, exist_ok=True)
        opts = TorchSettings(opts.record_shapes, opts.with_flops, opts.memory,
                             str(settings.trace_dir / _file_name(f"{label}.{component.name}.{index}.json.gz")))
    if device == "cuda":  # peak = what the call adds over what was allocated before it (weights, inputs)
        synchronize(device)
        resident = cuda_allocated_bytes(device)
        reset_cuda_peak(device)
        if opts.chrome_trace is None:
            # The allocator's own peak replaces what the allocation records would give, so the
            # profiler does not record them: an event per allocation and free, costly at stop,
            # export and parse. A trace the user keeps (--trace) still holds them.
            opts = replace(opts, memory=False)
    cap = torch_backend.capture(component.fn, x, device, opts)
    if device == "cuda":
        cap.peak_mem_bytes = max(cuda_peak_bytes(device) - resident, 0.0)
        cap.resident_mem_bytes = resident
    return cap


def _file_name(name: str) -> str:
    """One plain file name inside traces/, whatever a user's component is called."""
    return re.sub(r"[^\w.+-]", "_", name).lstrip(".") or "_"
