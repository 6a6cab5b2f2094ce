"""Drives one workload: warm-up, then per sample the unprofiled timed repeats and one profiled pass.

Unprofiled and profiled passes alternate sample by sample, so slow drift of the machine (thermal,
other load) hits both alike. Every component of a pass gets the previous component's output
from the same pass, as in the real system.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from . import cprofile_backend, torch_backend
from .nvtx import component_range, range_name
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


def profile_workload(workload, label: str, settings: SessionSettings,
                     on_sample: SampleCallback | None = None) -> WorkloadProfile:
    """Profiles every sample; ``on_sample(index, events, timings)`` gets each sample's rows as soon
    as it is measured, so the caller can save them before the next sample starts. With
    ``on_sample`` the rows are the caller's alone (the profile returned holds none), so memory does
    not grow with the samples; without it they are returned together."""
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
        if on_sample:
            on_sample(index, sample_events, sample_frame)
        else:
            events.append(sample_events)
            timings.append(sample_frame)
    if not events:
        return WorkloadProfile(label, events_frame([]), pd.DataFrame(columns=TIMING_COLUMNS))
    return WorkloadProfile(label, pd.concat(events, ignore_index=True), pd.concat(timings, ignore_index=True))


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
    cap = torch_backend.capture(component.fn, x, device, opts)
    if device == "cuda":
        cap.peak_mem_bytes = max(cuda_peak_bytes(device) - resident, 0.0)
        cap.resident_mem_bytes = resident
    return cap


def _file_name(name: str) -> str:
    """One plain file name inside traces/, whatever a user's component is called."""
    return re.sub(r"[^\w.+-]", "_", name).lstrip(".") or "_"
