"""The event table: one row per distinct (component, sample, op, context, shapes), with call counts.

Rows are aggregated within a profiled call so that a long symbolic loop of tiny ops stays a
small table, while every field the taxonomy and the reports need is kept.
"""
from __future__ import annotations

import re

import pandas as pd

# Host-side CUDA/HIP runtime and driver API calls (cudaLaunchKernel, cuLaunchKernel, cudnnXxx,
# cublasXxx, ncclXxx, hipXxx): the one definition. They are recorded with source "runtime".
RUNTIME_API = re.compile(r"(cuda|cu|cudnn|cublas|nccl|hip)[A-Z]\w*")

# C++ kernels torch.compile generates on the CPU (workloads/compile.py). Each runs inside a
# profiler range of its own, which the profiler reports as a user range; its self time is the
# kernel's work, so such events are ops (source "op"), not annotations.
INDUCTOR_CPU_KERNEL = re.compile(r"(graph_\d+_)?(cpp_fused_\w+|gemm_m\d+n\d+k\d+_kernel|cpp_CppMicroGemm\w*)")

# Columns in order; the taxonomy stage adds ``category``, ``subcategory`` and ``rule``.
COLUMNS = {
    "workload": "string", "component": "string", "kind": "string", "sample": "int64",
    "source": "string",        # op | runtime | annotation | kernel | python
    "device": "string",        # cpu | cuda
    "name": "string",          # aten::addmm, kernel name, or module:function
    "ancestors": "string",     # enclosing ops, outermost first, joined by ">"
    "children": "string",      # ops called directly, sorted, joined by "|"
    "calls": "int64",
    "self_cpu_us": "float64",  # profiled self time on the host
    "self_device_us": "float64",  # profiled device time: a kernel's duration; for an op, its kernels'
    "gpu_busy_us": "float64",  # device events: share of the GPU-busy time (overlaps split evenly)
    "gpu_idle_self_us": "float64",  # host events on CUDA: self time while the GPU ran nothing
    "input_shapes": "string", "input_dtypes": "string",
    "flops": "float64",        # as estimated by torch.profiler (matmul and conv only)
    "bytes": "float64",        # estimated bytes of tensor inputs read
}
KEY = ["workload", "component", "kind", "sample", "source", "device", "name", "ancestors", "children",
       "input_shapes", "input_dtypes"]
SUMMED = ["calls", "self_cpu_us", "self_device_us", "gpu_busy_us", "gpu_idle_self_us", "flops", "bytes"]


def empty_events() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in COLUMNS.items()})


def events_frame(rows: list) -> pd.DataFrame:
    """Builds the typed table from raw per-call rows (dicts, lists of dicts, or frames of rows),
    summing calls with the same key."""
    frames = [r for r in rows if isinstance(r, pd.DataFrame) and len(r)]
    dicts = [r for r in rows if isinstance(r, dict)]
    dicts += [d for r in rows if isinstance(r, list) for d in r]
    if dicts:
        frames.append(pd.DataFrame(dicts))
    if not frames:
        return empty_events()
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for col in COLUMNS:
        if col not in df:
            df[col] = 0 if COLUMNS[col] in ("int64", "float64") else ""
    for col in SUMMED:  # rows from sources without a column (cProfile, older runs) hold 0 there
        df[col] = df[col].fillna(0)
    df = df.groupby(KEY, sort=False, dropna=False, as_index=False)[SUMMED].sum()
    return df[list(COLUMNS)].astype(COLUMNS)


def tagged(rows: list[dict] | pd.DataFrame, **keys) -> list[dict] | pd.DataFrame:
    """The rows of one call with the keys that say which call (workload, component, kind, sample)."""
    if isinstance(rows, pd.DataFrame):
        return rows.assign(**keys)
    for r in rows:
        r.update(keys)
    return rows


def op_time_us(events: pd.DataFrame) -> pd.Series:
    """The profiled host time each row contributes to its category (the host view), in microseconds.

    Self time of ops and runtime calls on the host, on every device (on a GPU, that is the time
    the host spends dispatching, launching and waiting; device time has its own views in
    attribution/views.py), and Python self time. User ranges (annotations) count nowhere: their
    self time is host code between ops.
    """
    host = events["source"].isin(["op", "runtime", "python"])
    return events["self_cpu_us"].where(host, 0.0)
