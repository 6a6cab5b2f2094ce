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
    "self_device_us": "float64",  # profiled self time on the device (kernels)
    "input_shapes": "string",  # per argument, tensor lists nested: "[[8, 16], [[3, 4], [3, 4]], []]"
    "input_dtypes": "string",  # per argument, comma-separated, empty for None: "float,Scalar,,long int"
    "concrete_inputs": "string",  # JSON list of the sizing arguments (strides, dims...), null elsewhere
    "flops": "float64",        # as estimated by torch.profiler (matmul and conv only)
    "bytes": "float64",        # estimated bytes of tensor inputs read
}
KEY = ["workload", "component", "kind", "sample", "source", "device", "name", "ancestors", "children",
       "input_shapes", "input_dtypes", "concrete_inputs"]
SUMMED = ["calls", "self_cpu_us", "self_device_us", "flops", "bytes"]


def empty_events() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in COLUMNS.items()})


def events_frame(rows: list[dict]) -> pd.DataFrame:
    """Builds the typed table from raw per-call rows, summing calls with the same key."""
    if not rows:
        return empty_events()
    df = pd.DataFrame(rows)
    for col in COLUMNS:
        if col not in df:
            df[col] = 0 if COLUMNS[col] in ("int64", "float64") else ""
    df = df.groupby(KEY, sort=False, dropna=False, as_index=False)[SUMMED].sum()
    return df[list(COLUMNS)].astype(COLUMNS)


def op_time_us(events: pd.DataFrame) -> pd.Series:
    """The profiled time each row contributes to its category, in microseconds.

    On the host: self CPU time of ops and Python functions. On a GPU: device time of kernels
    (host-side op time is then overhead, accounted as time outside ops), and Python self time.
    User ranges (annotations) count nowhere: their self time is host code between ops.
    """
    on_gpu = events["device"] == "cuda"
    src = events["source"]
    host = (src.isin(["op", "runtime"]) & ~on_gpu) | (src == "python")
    return events["self_cpu_us"].where(host, 0.0) + events["self_device_us"].where(src == "kernel", 0.0)
