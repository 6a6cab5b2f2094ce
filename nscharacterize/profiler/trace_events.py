"""From a trace's interval tables (nscharacterize/profiler/chrome_trace.py) to event rows and per-call facts.

The rows have the same columns and meaning as those the old ``prof.events()`` path produced (a
test compares both on a real module), plus the two timeline amounts of nscharacterize/profiler/timeline.py.
They are computed per event here, from timestamps, before nscharacterize/profiler/events.py sums rows per key:
attribute first, then aggregate, so events.parquet does not grow with the number of calls.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .timeline import walk

from .chrome_trace import Trace, flops, name_mask
from .events import DTYPE_BYTES, concrete_from_trace, same_text
from .gc_pause import gc_paused
from .python_names import traced_name
_SKIP = ("ProfilerStep",)


@dataclass
class CallFacts:
    """What one profiled call did on the device, beyond the per-op rows."""
    span_s: float            # first start to last end of host and device activity in the trace
    gpu_busy_s: float        # union of kernel, memcpy and memset intervals
    kernel_launches: int     # kernels (memcpy and memset not counted)
    median_kernel_us: float  # NaN without kernels


@gc_paused()
def rows(trace: Trace, device: str, with_flops: bool = True, host_sample: np.ndarray | None = None,
         device_sample: np.ndarray | None = None, python_sample: np.ndarray | None = None,
         with_python: bool = False) -> tuple[pd.DataFrame, CallFacts]:
    """Event rows of one call (one row per host or device event, ``calls`` = 1) and its facts.

    With ``host_sample`` and ``device_sample`` (one sample number per host and device event of
    ``trace``, -1 for none: nscharacterize/profiler/trace_steps.py), the rows carry a ``sample``
    column and the events of no sample are left out; the timeline is still walked on the whole
    trace, so an event's share does not depend on where the samples are cut. ``with_python``
    (import-trace): rows of source ``python`` for the trace's Python function events, holding
    their time outside ops (``python_outside_ops_us``)."""
    host, dev = trace.host, trace.device
    timeline = device == "cuda"
    w = walk(host["ts"], host["end"], host["tid"], host["parent"], dev["ts"], dev["end"])
    dev_of_op = np.zeros(len(host))
    launched = dev["launcher"].to_numpy() if len(dev) else np.zeros(0, dtype=np.int64)
    if len(dev):
        known = launched >= 0
        np.add.at(dev_of_op, launched[known], dev["dur"].to_numpy()[known])
    keep = ~name_mask(host["name"].to_numpy(), lambda n: n.startswith(_SKIP))
    h = host[keep]
    dims, types, conc, names = h["input_dims"].tolist(), h["input_types"].tolist(), h["concrete_inputs"].tolist(), \
        h["name"].tolist()
    # Shapes as the trace writes them: a tensor-list argument (cat, stack, index) is the nested list
    # of its tensors' shapes. Dtypes: one field per argument, empty for None, in step with shapes.
    # The argument lists are shared objects, one per distinct text in the trace (trace_decode's
    # ``_coded_raw``): each is turned into text once, and equal texts stay one string object.
    shapes = _texts(dims, lambda d: str(d) if d else "")
    dtypes = _texts(types, lambda ty: ",".join(t or "" for t in ty) if ty else "")
    concrete = _concrete_column(names, conc)
    # Bytes and flops depend on (name, shapes, dtypes, concrete inputs) only: compute them once per
    # distinct combination (symbolic loops repeat the same few thousands of times).
    conv_args = [str(c) if n == "aten::conv2d" else "" for n, c in zip(names, conc)]  # stride, padding, ...
    combo, first = _factorize(zip(names, shapes, dtypes, conv_args), len(names))
    per_bytes = np.array([input_bytes(dims[i], types[i]) for i in first], dtype=float)
    per_flops = np.array([flops(names[i], dims[i], conc[i]) for i in first], dtype=float) if with_flops \
        else np.zeros(len(first))
    host_rows = pd.DataFrame({
        "source": _shared(h["source"]), "device": same_text(len(names), device), "name": _shared(names),
        "ancestors": _shared(h["ancestors"]), "children": _shared(h["children"]), "calls": 1,
        "self_cpu_us": h["self_us"].to_numpy(),
        "self_device_us": dev_of_op[keep] if timeline else 0.0,
        "gpu_busy_us": 0.0,
        "gpu_idle_self_us": w.gpu_idle_self_us[keep] if timeline else 0.0,
        "input_shapes": _shared(shapes), "input_dtypes": _shared(dtypes), "concrete_inputs": _shared(concrete),
        "flops": per_flops[combo] if len(combo) else 0.0, "bytes": per_bytes[combo] if len(combo) else 0.0,
    })
    if host_sample is not None:
        host_rows["sample"] = np.asarray(host_sample, dtype=np.int64)[keep]
    frames = [host_rows]
    if len(dev):
        anc = host["ancestors"].to_numpy()
        nm = host["name"].to_numpy()
        chains: dict[int, str] = {-1: ""}   # per launching op: its chain, one string per distinct text
        texts: dict[str, str] = {a: a for a in set(anc.tolist())}   # the host rows' chains
        for i in launched.tolist():
            if i not in chains:
                text = anc[i] + ">" + nm[i] if anc[i] else nm[i]
                chains[i] = texts.setdefault(text, text)
        chain = [chains[i] for i in launched.tolist()]
        blank = same_text(len(dev), "")
        frames.append(pd.DataFrame({
            "source": same_text(len(dev), "kernel"), "device": same_text(len(dev), device), "name": _shared(dev["name"]),
            "ancestors": _shared(chain), "children": blank, "calls": 1, "self_cpu_us": 0.0,
            "self_device_us": dev["dur"].to_numpy(), "gpu_busy_us": w.gpu_busy_us, "gpu_idle_self_us": 0.0,
            "input_shapes": blank, "input_dtypes": blank, "concrete_inputs": blank, "flops": 0.0, "bytes": 0.0}))
        if device_sample is not None:
            frames[-1]["sample"] = np.asarray(device_sample, dtype=np.int64)
    outside = python_outside_ops_us(trace) if with_python else np.zeros(0)
    if len(outside):
        blank = same_text(len(outside), "")
        py_rows = pd.DataFrame({
            "source": same_text(len(outside), "python"), "device": same_text(len(outside), device),
            "name": _shared(python_names(trace.python["name"])), "ancestors": blank, "children": blank, "calls": 1,
            "self_cpu_us": outside, "self_device_us": 0.0, "gpu_busy_us": 0.0, "gpu_idle_self_us": 0.0,
            "input_shapes": blank, "input_dtypes": blank, "concrete_inputs": blank, "flops": 0.0, "bytes": 0.0})
        if host_sample is not None:
            py_rows["sample"] = np.asarray(python_sample if python_sample is not None else
                                           np.full(len(py_rows), -1), dtype=np.int64)
        frames.append(py_rows[outside > 0])
    kernels = dev["dur"][dev["kind"] == "kernel"] if len(dev) else pd.Series(dtype=float)
    facts = CallFacts(w.span_us / 1e6, w.busy_us / 1e6, int(len(kernels)),
                      float(kernels.median()) if len(kernels) else float("nan"))
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else host_rows
    if host_sample is not None:
        out = out[out["sample"].to_numpy() >= 0].reset_index(drop=True)
    return out, facts


def _texts(values: list, text) -> list[str]:
    """``text(v)`` for each value, computed once per distinct object (by identity)."""
    seen: dict[int, str] = {}
    out = []
    for v in values:
        t = seen.get(id(v))
        if t is None:
            t = seen[id(v)] = text(v)
        out.append(t)
    return out


def _shared(values) -> pd.Series:
    """A text column kept as Python objects: rows share one string per distinct text (a trace
    repeats a few thousand names and ancestor chains 10^5 times), where pandas' own string dtype
    would copy every row's text into a buffer of its own (tens of MB on a 50 MB trace, issue 22).
    The summed table (events.events_frame) gets the schema's types."""
    if isinstance(values, pd.Series):   # its values, not its index (a filtered table's)
        values = values.to_numpy(dtype=object)
    return pd.Series(values, dtype=object)


def _factorize(keys, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(code of each key in order of first appearance, row of each code's first appearance). A
    dict, not pandas: a MultiIndex factorization costs milliseconds of fixed overhead per call,
    and this runs for every profiled call (issue 23)."""
    index: dict = {}
    first: list[int] = []
    codes = np.empty(n, dtype=np.int64)
    for i, key in enumerate(keys):
        code = index.get(key)
        if code is None:
            code = index[key] = len(first)
            first.append(i)
        codes[i] = code
    return codes, np.asarray(first, dtype=np.int64)


def python_names(names: pd.Series) -> list[str]:
    """The Python stack events' names in the form the python rules read
    (nscharacterize/profiler/python_names.py), once per distinct name."""
    codes, uniques = pd.factorize(names)
    converted = np.array([traced_name(str(n)) for n in uniques] + [""], dtype=object)
    return converted[codes].tolist()


def python_outside_ops_us(trace: Trace) -> np.ndarray:
    """Per Python function event (traces recorded ``with_stack``): the time it is the innermost
    Python frame of its thread while no host event runs there, i.e. its part of the time that is
    otherwise "outside any op" (within the traced span). Its own time minus its Python children's, minus the time host
    events (ops, ranges, runtime calls) cover inside it and not inside a child:
    self = (dur - sum of children's dur) - (covered(p) - sum of children's covered)."""
    py, host = trace.python, trace.host
    if py.empty:
        return np.zeros(0)
    # Within the traced span (host and device activity): the profiler's own frames around it
    # (__enter__, start_trace, the export) are not the workload's time.
    lo, hi = trace.span_us
    ts = np.clip(py["ts"].to_numpy(), lo, hi)
    end = np.clip(py["end"].to_numpy(), lo, hi)
    tid = py["tid"].to_numpy()
    covered = np.zeros(len(py))
    top = host[host["parent"] < 0] if len(host) else host
    for t in np.unique(tid):
        mine = tid == t
        h = top[top["tid"] == t] if len(top) else top
        if h.empty:
            continue
        order = np.argsort(h["ts"].to_numpy(), kind="stable")
        hs, he = h["ts"].to_numpy()[order], h["end"].to_numpy()[order]
        before = np.concatenate([[0.0], np.cumsum(he - hs)])   # host time before each interval

        def cum(q, hs=hs, he=he, before=before):
            i = np.searchsorted(hs, q, side="right") - 1
            inside = np.where(i >= 0, np.clip(q - hs[np.maximum(i, 0)], 0.0, (he - hs)[np.maximum(i, 0)]), 0.0)
            return np.where(i >= 0, before[np.maximum(i, 0)] + inside, 0.0)
        covered[mine] = cum(end[mine]) - cum(ts[mine])
    dur = end - ts
    index = pd.Series(np.arange(len(py)), index=py["python_id"].to_numpy())
    index = index[~index.index.duplicated(keep="first")]
    parent = index.reindex(py["python_parent_id"].to_numpy()).to_numpy(dtype=float)
    has = ~np.isnan(parent)
    p = parent[has].astype(np.int64)
    child_dur, child_cov = np.zeros(len(py)), np.zeros(len(py))
    np.add.at(child_dur, p, dur[has])
    np.add.at(child_cov, p, covered[has])
    return np.maximum((dur - child_dur) - (covered - child_cov), 0.0)


def peak_added_bytes(trace: Trace, device: str, window: tuple[float, float] | None = None) -> float:
    """Peak of what the call allocated on ``device`` over what was allocated before it: the running
    sum of the allocation records (frees are negative), at allocation granularity. With
    ``window`` (start, end in the trace's microseconds), only the records in it: one step's."""
    mem = trace.memory
    if window is not None and not mem.empty:
        ts = mem["ts"].to_numpy()
        mem = mem[(ts >= window[0]) & (ts < window[1])]
    if mem.empty:
        return 0.0
    cuda_types = mem["device_type"] != 0   # 0 is the CPU in c10's DeviceType
    part = mem[cuda_types] if device == "cuda" else mem[~cuda_types]
    if part.empty:
        return 0.0
    running = part.sort_values("ts", kind="stable")["bytes"].cumsum()
    return float(max(running.max(), 0.0))


def _concrete_column(names: list, concrete: list) -> list[str]:
    """``concrete_inputs`` per event, parsed once per distinct (name, Concrete Inputs). The
    argument lists are shared objects, one per distinct text (trace_decode's ``_coded_raw``), so
    the object's identity stands for its text: no tuple of it is built per event. ``concrete``
    holds every list while this runs, so no identity is reused for another one."""
    seen: dict = {}
    out = []
    for name, values in zip(names, concrete):
        key = (name, id(values))
        text = seen.get(key)
        if text is None:
            text = seen[key] = concrete_from_trace(name, values)
        out.append(text)
    return out


def input_bytes(shapes, dtypes) -> float:
    """Bytes of the plain tensor arguments (a tensor list, recorded nested, is not counted)."""
    total = 0.0
    for shape, dtype in zip(shapes or [], dtypes or []):
        if isinstance(shape, list) and shape and all(isinstance(d, int) for d in shape):
            n = 1
            for d in shape:
                n *= d
            total += n * DTYPE_BYTES.get(str(dtype).lower(), 4)
    return total
