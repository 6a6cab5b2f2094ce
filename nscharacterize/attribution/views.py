"""The device and bound views of GPU components, each adding up exactly to the wall time W.

The host view (the paper's method: op self host time, Other = outside ops) is the ``category``
axis, computed for every device by nscharacterize/attribution/aggregate.py. For torch components on CUDA, this
module adds, from the per-event timeline amounts of nscharacterize/profiler/timeline.py:

- axis ``device``: each category gets the GPU-busy share of the kernels, memcpy and memset it
  launched (overlapping streams counted once); ``gpu_idle`` = W - busy, never mixed into Other.
- axis ``bound`` (the critical-path answer): while the GPU is busy, time goes to the running
  kernel's category; while it is idle, to the category of the host op running then, or to Other
  when no op runs (Python and framework code). Axis ``bound_split`` holds those three parts.

Kernel time is not inflated by the profiler, so GPU-busy time is kept as measured (capped at W);
the idle part, host time that the profiler does inflate, is scaled so the view adds up to W.
The verdict per component compares GPU busy with W (thresholds below, in docs/guide/cuda.md).
"""
from __future__ import annotations

import pandas as pd

from nscharacterize.profiler.events import counted_host_op
from nscharacterize.taxonomy.categories import BOUND_SPLIT, CATEGORIES, DEVICE_CATEGORIES, GPU_IDLE

DEVICE_AXIS, BOUND_AXIS, BOUND_SPLIT_AXIS = "device", "bound", "bound_split"
DEVICE_BOUND_AT = 0.70   # GPU busy >= 70% of the wall time: device-bound
HOST_BOUND_AT = 0.30     # GPU busy <= 30%: host-bound; in between: mixed
COMM_BOUND_AT = 0.50     # communication kernels >= 50% of GPU busy (and not host-bound): communication-bound
_COMP = ["workload", "component", "sample"]


def cuda_views(events: pd.DataFrame, timings: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Wide frames (index workload, component, sample) in seconds, one per view axis; empty when
    no torch component ran on CUDA."""
    t = timings[(timings["device"] == "cuda") & (timings["profiler"] == "torch")].set_index(_COMP)
    if t.empty:
        return {}
    ev = events[events["device"] == "cuda"]
    busy_us = _col(ev, "gpu_busy_us").where(ev["source"] == "kernel", 0.0)
    idle_us = _col(ev, "gpu_idle_self_us").where(counted_host_op(ev), 0.0)
    dev = _by_category(ev.assign(v=busy_us), t.index) / 1e6
    host_idle = _by_category(ev.assign(v=idle_us), t.index) / 1e6
    wall = t["wall_s"].astype(float)
    prof = t["profiled_wall_s"].astype(float)

    busy = dev.sum(axis=1)
    cap = (wall / busy.where(busy > wall)).fillna(1.0)  # GPU busy never exceeds W
    dev = dev.mul(cap, axis=0)
    busy = dev.sum(axis=1)
    device = dev.copy()
    device[GPU_IDLE] = (wall - busy).clip(lower=0.0)

    ops_idle = host_idle.sum(axis=1)
    idle_measured = (prof - busy).clip(lower=0.0)
    python = (idle_measured - ops_idle).clip(lower=0.0)
    denom = ops_idle + python
    scale = ((wall - busy) / denom.where(denom > 0)).fillna(0.0)
    host_part = host_idle.mul(scale, axis=0)
    python = python * scale
    python = python.where(denom > 0, wall - busy)   # no host record at all: the idle time is framework
    bound = dev + host_part
    bound["other"] += python
    split = pd.DataFrame({"device_busy": busy, "host_ops": host_part.sum(axis=1), "python_framework": python})
    return {DEVICE_AXIS: device[list(DEVICE_CATEGORIES)], BOUND_AXIS: bound[list(CATEGORIES)],
            BOUND_SPLIT_AXIS: split[list(BOUND_SPLIT)]}


def _col(ev: pd.DataFrame, name: str) -> pd.Series:
    """A timeline column; 0 for runs written before it existed."""
    return ev[name].astype(float) if name in ev else pd.Series(0.0, index=ev.index)


def _by_category(ev: pd.DataFrame, index: pd.MultiIndex) -> pd.DataFrame:
    if ev.empty:
        return pd.DataFrame(0.0, index=index, columns=list(CATEGORIES))
    wide = ev.groupby(_COMP + ["category"], observed=True)["v"].sum().unstack("category")
    return wide.reindex(index).reindex(columns=list(CATEGORIES)).fillna(0.0)


def verdict(busy_share: float, comm_share: float = 0.0) -> str:
    """``busy_share``: GPU busy / W; ``comm_share``: communication kernels' part of GPU busy (the
    device view's Communication column over busy). A rank whose GPU mostly runs NCCL/RCCL
    kernels waits for the other ranks: it is communication-bound, not device-bound."""
    if busy_share != busy_share:
        return ""
    if busy_share > HOST_BOUND_AT and comm_share >= COMM_BOUND_AT:
        return "communication-bound"
    if busy_share >= DEVICE_BOUND_AT:
        return "device-bound"
    if busy_share <= HOST_BOUND_AT:
        return "host-bound"
    return "mixed"


def gpu_summary(breakdown: pd.DataFrame, timings: pd.DataFrame) -> pd.DataFrame:
    """Per CUDA component: GPU busy share of W, kernel launches and median kernel duration per
    sample, and the verdict."""
    split = breakdown[breakdown["axis"] == BOUND_SPLIT_AXIS]
    if split.empty:
        return pd.DataFrame(columns=["workload", "component", "gpu_busy", "kernel_launches", "median_kernel_us",
                                     "comm_of_busy", "verdict"])
    busy = split[split["category"] == "device_busy"].set_index(["workload", "component"])["share"]
    t = timings.groupby(["workload", "component"], sort=False)
    launches = t["kernel_launches"].mean() if "kernel_launches" in timings else pd.Series(dtype=float)
    median = t["median_kernel_us"].median() if "median_kernel_us" in timings else pd.Series(dtype=float)
    dev = breakdown[breakdown["axis"] == DEVICE_AXIS]
    comm = dev[dev["category"] == "communication"].set_index(["workload", "component"])["share"]
    out = pd.DataFrame({"gpu_busy": busy})
    out["kernel_launches"] = launches.reindex(out.index)
    out["median_kernel_us"] = median.reindex(out.index)
    # Communication's part of GPU busy (both shares of W).
    out["comm_of_busy"] = (comm.reindex(out.index).fillna(0.0) / out["gpu_busy"].where(out["gpu_busy"] > 0)).fillna(0.0)
    out["verdict"] = [verdict(float(b), float(c)) for b, c in zip(out["gpu_busy"], out["comm_of_busy"])]
    return out.reset_index()


def addup_errors(views: dict[str, pd.DataFrame], wall: pd.Series) -> pd.Series:
    """Largest |sum of a view - W| per (workload, component, sample) over the CUDA views."""
    if not views:
        return pd.Series(dtype=float)
    errs = [(frame.sum(axis=1) - wall.reindex(frame.index)).abs() for frame in views.values()]
    return pd.concat(errs, axis=1).max(axis=1).astype(float) if errs else pd.Series(dtype=float)

