"""The event table: one row per distinct (component, sample, op, context, shapes), with call counts.

Rows are aggregated within a profiled call so that a long symbolic loop of tiny ops stays a
small table, while every field the taxonomy and the reports need is kept.
"""
from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd

from nscharacterize.rundir.schemas import CLASSIFIED, EVENTS, TIMINGS

# Host-side CUDA/HIP runtime and driver API calls (cudaLaunchKernel, cuLaunchKernel, cudnnXxx,
# cublasXxx, ncclXxx, hipXxx): the one definition. They are recorded with source "runtime".
RUNTIME_API = re.compile(r"(cuda|cu|cudnn|cublas|nccl|hip)[A-Z]\w*")

# C++ kernels torch.compile generates on the CPU (nscharacterize/workloads/compile.py). Each runs inside a
# profiler range of its own, which the profiler reports as a user range; its self time is the
# kernel's work, so such events are ops (source "op"), not annotations.
INDUCTOR_CPU_KERNEL = re.compile(r"(graph_\d+_)?(cpp_fused_\w+|gemm_m\d+n\d+k\d+_kernel|cpp_CppMicroGemm\w*)")
# The range around a compiled graph's generated code (torch.compile: Inductor's output code calls its
# kernels inside it). Rule torch-compile-runtime classifies it (its self time is Other); this is how
# an imported trace finds it. tests/taxonomy/test_taxonomy.py keeps the two in step.
COMPILED_GRAPH_RANGE = re.compile(r"## (?:Call CompiledFxGraph|Compiled\w*) .*##")

# Bytes per element of the dtype names torch.profiler records (lower-cased), for the ``bytes``
# column and the cost model (nscharacterize/attribution/opcost.py): the one table.
DTYPE_BYTES = {"float": 4, "double": 8, "half": 2, "c10::half": 2, "c10::bfloat16": 2, "bfloat16": 2,
               "long int": 8, "int": 4, "short int": 2, "signed char": 1, "unsigned char": 1, "bool": 1,
               "c10::complex<float>": 8, "c10::complex<double>": 16, "c10::complex<c10::half>": 4,
               "c10::float8_e4m3fn": 1, "c10::float8_e5m2": 1, "c10::float8_e4m3fnuz": 1,
               "c10::float8_e5m2fnuz": 1, "unsigned short": 2, "unsigned int": 4, "unsigned long": 8}

# Concrete (non-tensor) arguments kept per op in ``concrete_inputs``: lists (sizes, strides,
# paddings, kernel sizes, dims, output sizes) and booleans for every op; plain numbers only for the
# ops below, whose amount of work depends on an integer argument (the dim of index_select or a
# reduction, RoI output sizes, k of topk, classes of one_hot). Numbers elsewhere (a select index, a
# fill value) vary from call to call and would split a symbolic loop's events into one row per call.
NUMBERS_KEPT = re.compile(r"aten::(index_select|_?embedding_bag|sum|mean|nansum|prod|max|min|amax|amin|argmax|argmin|"
                          r"all|any|std|var|logsumexp|norm|linalg_vector_norm|topk|kthvalue|sort|argsort|one_hot|"
                          r"cumsum|cumprod|softmax|_softmax|log_softmax|_log_softmax|arange|count_nonzero|"
                          r"l1_loss|mse_loss|smooth_l1_loss|huber_loss)|"
                          r"torchvision::(roi_align|roi_pool|ps_roi_align|ps_roi_pool)")
_BARE_POINT = re.compile(r"(?<=\d)\.(?!\d)")   # C++ writes 2.0 as "2."


def concrete_inputs(name: str, values) -> str:
    """The ``concrete_inputs`` field of an op from its concrete argument values (a FunctionEvent's
    ``concrete_inputs``: Python numbers, bools, lists, None): JSON of the values that size its work,
    one entry per argument, null where not kept; "" when nothing is kept."""
    if not values:
        return ""
    numbers = bool(NUMBERS_KEPT.fullmatch(name))
    kept = [list(v) if isinstance(v, (list, tuple)) else v if isinstance(v, bool) or
            (numbers and isinstance(v, (int, float))) else None for v in values]
    if all(v is None for v in kept):
        return ""
    try:
        return json.dumps(kept)
    except (TypeError, ValueError):
        return ""


def concrete_from_trace(name: str, values) -> str:
    """The same field from a Chrome trace's "Concrete Inputs" strings ("", "-2", "False", "[2, 2]",
    "0.25", "2."), for the live trace path and importers of torch.profiler traces: same rule and
    same text as from a FunctionEvent."""
    if not values:
        return ""
    return concrete_inputs(name, [_parse_concrete(v) for v in values])


def _parse_concrete(text):
    if not isinstance(text, str):
        return text
    t = text.strip()
    if t in ("True", "False"):
        return t == "True"
    if not t:
        return None
    t = _BARE_POINT.sub(".0", t.replace("True", "true").replace("False", "false"))
    try:
        return json.loads(t)
    except ValueError:
        try:
            return float(t)   # inf, nan
        except ValueError:
            return None       # a string argument (a device, a reduction mode name): not kept


# Columns in order; the taxonomy stage adds ``category``, ``subcategory`` and ``rule``.
# Columns in order, with their dtypes: the one schema of events.parquet
# (nscharacterize/rundir/schemas.py EVENTS, where each column says what it holds), less the
# ``category``, ``subcategory`` and ``rule`` the taxonomy stage adds.
RAW_EVENTS = EVENTS.without(CLASSIFIED)
COLUMNS = RAW_EVENTS.dtypes
# timings.csv: one row per (workload, component, sample) (schemas.TIMINGS), named here beside
# the event columns, so that import-trace builds it without importing the live profiler (and torch).
TIMING_COLUMNS = TIMINGS.names
KEY = ["workload", "component", "kind", "sample", "source", "device", "name", "ancestors", "children",
       "input_shapes", "input_dtypes", "concrete_inputs"]
SUMMED = ["calls", "self_cpu_us", "self_device_us", "gpu_busy_us", "gpu_idle_self_us", "flops", "bytes"]


def empty_events() -> pd.DataFrame:
    return RAW_EVENTS.empty()


def events_frame(rows: list) -> pd.DataFrame:
    """Builds the typed table from raw per-call rows (dicts, lists of dicts, or frames of rows),
    summing calls with the same key.

    The sum runs in plain Python over the key tuples: a pandas groupby on twelve text keys cost
    tens of milliseconds per sample whatever the rows (its fixed overhead), more than most
    components take, while a dict of tuples costs about a microsecond per row (issue 23). A
    column no row has is filled with 0 or ""; a column only some rows have is empty (null) in the
    others, as a concatenation of the rows would leave it."""
    frames = [r for r in rows if isinstance(r, pd.DataFrame) and len(r)]
    dicts = [r for r in rows if isinstance(r, dict)]
    dicts += [d for r in rows if isinstance(r, list) for d in r]
    if not frames and not dicts:
        return empty_events()
    if not dicts and sum(len(f) for f in frames) >= LARGE_ROWS:
        return _sum_frames(frames)
    columns: dict[str, list] = {}
    for col, kind in COLUMNS.items():
        present = any(col in f for f in frames) or any(col in d for d in dicts)
        missing = None if present else (0 if kind in ("int64", "float64") else "")
        values: list = []
        for frame in frames:
            if col in frame:
                series = frame[col]
                values.extend(series.astype(object).where(series.notna(), None).tolist() if series.hasnans
                              else series.tolist())
            else:
                values.extend([missing] * len(frame))
        values.extend(d.get(col, missing) for d in dicts)
        columns[col] = values
    for col in SUMMED:  # rows from sources without a column (cProfile, older runs) hold 0 there
        columns[col] = [0 if v is None or v != v else v for v in columns[col]]
    sums: dict[tuple, list] = {}
    for key, summed in zip(zip(*(columns[c] for c in KEY)), zip(*(columns[c] for c in SUMMED))):
        acc = sums.get(key)
        if acc is None:
            sums[key] = list(summed)
        else:
            for i, v in enumerate(summed):
                acc[i] += v
    keys, totals = list(sums), list(sums.values())
    out = {c: [k[i] for k in keys] for i, c in enumerate(KEY)}
    out.update({c: [t[i] for t in totals] for i, c in enumerate(SUMMED)})
    return pd.DataFrame({c: pd.array(out[c], dtype=COLUMNS[c]) for c in COLUMNS})


# From this many rows on (an imported trace: 10^5-10^6 events in one call; a batch of spooled
# samples: 10^3-10^5), the rows are summed with hash factorization per key column, which costs a
# fixed few milliseconds plus tens of nanoseconds a row, instead of a microsecond a row in Python
# (about 5x less on a 70 MB trace). The two cross near 5,000-8,000 rows (configs/ci.yaml's batches).
LARGE_ROWS = 8_000


def _sum_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``events_frame`` of frames only, vectorized: the same rows, the same order (a key's first
    appearance), the same types and fills."""
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    n = len(frame)
    group = np.zeros(n, dtype=np.int64)
    for col in KEY:
        if col not in frame:
            continue
        codes, uniques = pd.factorize(frame[col], use_na_sentinel=False)   # NaN/None are one key, as in the dict path
        if len(uniques) > 1:   # combined codes stay below n: re-numbered after each column
            group, _ = pd.factorize(group * len(uniques) + codes)
    groups = int(group.max()) + 1 if n else 0
    first = np.empty(groups, dtype=np.int64)
    first[group[::-1]] = np.arange(n - 1, -1, -1)   # the first row of each group
    out: dict[str, Any] = {}
    for col, kind in COLUMNS.items():
        if col in SUMMED:
            values = frame[col].to_numpy(dtype=float, na_value=0.0) if col in frame else np.zeros(n)
            total = np.bincount(group, weights=values, minlength=groups)
            out[col] = pd.array(total.round() if kind == "int64" else total, dtype=kind)
        elif col in frame:
            taken = frame[col].iloc[first]
            out[col] = pd.array(taken.astype(object).where(taken.notna(), None).tolist(), dtype=kind)
        else:
            out[col] = pd.array([0 if kind in ("int64", "float64") else ""] * groups, dtype=kind)
    return pd.DataFrame(out)


def tagged(rows: list[dict] | pd.DataFrame, **keys) -> list[dict] | pd.DataFrame:
    """The rows of one call with the keys that say which call (workload, component, kind, sample)."""
    if isinstance(rows, pd.DataFrame):
        return rows.assign(**{k: same_text(len(rows), v, rows.index) if isinstance(v, str) else v
                              for k, v in keys.items()})
    for r in rows:
        r.update(keys)
    return rows


def same_text(n: int, text: str, index: pd.Index | None = None) -> pd.Series:
    """A text column of one value, ``n`` rows of one shared object: pandas 3 would build a string
    column of its own from the scalar (tens of ms on an imported trace's 10^5 rows) and convert it
    again to join or sum the frames of object columns it meets."""
    return pd.Series(np.full(n, text, dtype=object), dtype=object, index=index)


def op_time_us(events: pd.DataFrame) -> pd.Series:
    """The profiled host time each row contributes to its category (the host view), in microseconds.

    Self time of ops and runtime calls on the host, on every device (on a GPU, that is the time
    the host spends dispatching, launching and waiting; device time has its own views in
    nscharacterize/attribution/views.py), and Python self time. User ranges (annotations) count nowhere: their
    self time is host code between ops; except a range a rule calls communication
    (``counted_host_op``).
    """
    return events["self_cpu_us"].where(counted_host_op(events, ("op", "runtime", "python")), 0.0)


def counted_host_op(events: pd.DataFrame, sources: tuple[str, ...] = ("op", "runtime")) -> pd.Series:
    """Host rows whose self time is an operator's: ``sources``, plus the ranges classified as
    communication (gloo:all_reduce, nccl:broadcast, record_param_comms): a process-group backend
    runs or waits for a collective inside such a range, so its self time is the collective's,
    not framework code between ops."""
    mask = events["source"].isin(list(sources))
    if "category" in events:
        mask |= (events["source"] == "annotation") & (events["category"] == "communication")
    return mask
