"""Reads a torch.profiler Chrome trace (.json or .json.gz) into typed interval tables.

One reader serves both the live capture (torch writes the trace, this reads it back: far cheaper
than ``prof.events()``, which builds a Python object per event) and ``import-trace`` (traces from
a user's own script, TensorBoard's plugin or this tool's ``--trace``). The tables keep start and
end times, so the attribution stage can walk the timeline (nscharacterize/profiler/timeline.py) before
anything is aggregated. Reading is two stages: the file into columns (nscharacterize/profiler/trace_decode.py,
without pandas, so that import-trace can run it in a worker process) and the columns into these tables
(``tables``).

- ``host``: host events (dispatcher ops, user ranges, CUDA runtime/driver calls), with their
  thread, External id, correlation, input dims/types, and the nesting rebuilt per thread from the
  timestamps (``parent``, ``ancestors``, ``children``, ``self_us``).
- ``device``: kernels, memcpy and memset with stream, correlation and the host event that launched
  them (``launcher``, an index into ``host``).
- ``python``: Python function events (only when the trace was recorded with ``with_stack``).
- ``memory``: allocation records (``[memory]``) with bytes and device type.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .events import INDUCTOR_CPU_KERNEL, RUNTIME_API
from .gc_pause import gc_paused, release_freed_memory
from .trace_decode import Coded, Decoded, decode, decode_many
from .trace_decode import NotATrace as NotATrace  # a JSON file that is no trace, named here too
from .trace_decode import TraceError as TraceError  # the reader's error, named here for its callers


@dataclass
class Trace:
    host: pd.DataFrame
    device: pd.DataFrame
    python: pd.DataFrame
    memory: pd.DataFrame
    span_us: tuple[float, float]   # first start and last end of any host or device interval
    metadata: dict                 # the recording machine's facts (deviceProperties, CUDA versions)
    # Complete ("X") events of categories this reader does not read, counted per category: an
    # accelerator it does not model (MTIA's mtia_ccp_events), profiler ranges, GPU-side copies of
    # host ranges. import-trace says so instead of staying silent (trace_decode._NOT_ACTIVITY lists the harmless).
    unread: dict = None  # type: ignore[assignment]
    # What was mended to read a file that is not valid JSON (trace_decode._decode_mended), in words.
    repairs: list = None  # type: ignore[assignment]

    @property
    def wall_us(self) -> float:
        return self.span_us[1] - self.span_us[0]

    @property
    def ns_resolution(self) -> bool:
        """torch >= 2.4 writes nanosecond timestamps (3 decimals of a microsecond); 2.3 writes whole
        microseconds, where the nesting of sub-microsecond ops is ambiguous."""
        ts = self.host["ts"].to_numpy()
        return bool(len(ts)) and bool((ts != np.floor(ts)).any())


def load(path: str | Path) -> Trace:
    """Reads ``path`` (.json or .json.gz): decoded into columns (nscharacterize/profiler/trace_decode.py),
    then into tables. Raises ``TraceError`` for a file that is not a readable Chrome trace."""
    return tables(decode(path))


def load_many(paths: "Sequence[str | Path]") -> Trace:
    """Several traces of one process, recorded one after the other, read as one trace
    (``trace_decode.decode_many`` says how their ids are kept apart)."""
    return tables(decode_many(paths))


@gc_paused()
def tables(decoded: Decoded) -> Trace:
    """The interval tables of a decoded trace (the freed heap of building them handed back, so
    that the next step's peak does not stack on it)."""
    h = _host_table(_as_numpy(decoded.host))
    d = _device_table(_as_numpy(decoded.device), h)
    python, memory = _python_table(_as_numpy(decoded.python)), _memory_table(_as_numpy(decoded.memory))
    starts = [t for t in (h["ts"].min() if len(h) else None, d["ts"].min() if len(d) else None) if t is not None]
    ends = [t for t in (h["end"].max() if len(h) else None, d["end"].max() if len(d) else None) if t is not None]
    span = (float(min(starts)), float(max(ends))) if starts else (0.0, 0.0)
    release_freed_memory()
    return Trace(h, d, python, memory, span, decoded.metadata, decoded.unread, decoded.repairs)


def _as_numpy(columns: dict[str, Any]) -> dict[str, Any]:
    """The decoder's columns (typed ``array``s, codes of ``Coded``) as numpy arrays over the same
    memory: the decoder runs without numpy (trace_decode's docstring says why)."""
    return {name: Coded(np.asarray(col.codes), col.values) if isinstance(col, Coded) else np.asarray(col)
            for name, col in columns.items()}


def name_mask(names, test) -> np.ndarray:
    """``test(name)`` for each event name (a column or list), as a bool array, computed once per
    distinct name: a trace repeats a few hundred names 10^5 times. A name that is not text is False."""
    codes, uniques = pd.factorize(np.asarray(names, dtype=object))
    per_name = np.fromiter((isinstance(u, str) and bool(test(u)) for u in uniques), dtype=bool, count=len(uniques))
    return per_name[codes]


def is_op_name(name: str) -> bool:
    """Dispatcher ops have a name space; CUDA runtime calls and Inductor's CPU kernels are ops too."""
    return "::" in name or bool(RUNTIME_API.fullmatch(name)) or bool(INDUCTOR_CPU_KERNEL.fullmatch(name))


def _source(category: str, name: str) -> str:
    """The event source of a host event: op, runtime or annotation (nscharacterize/profiler/events.py).
    An event of a runtime or driver category is a runtime call whatever its name: Level Zero's
    zeCommandListAppendLaunchKernel and HIP's __hipPushCallConfiguration are as much runtime calls
    as cudaLaunchKernel, and a kernel's launching op is found through them."""
    if category == "runtime":
        return "runtime"
    if INDUCTOR_CPU_KERNEL.fullmatch(name):
        return "op"
    if category == "annotation" or not is_op_name(name):
        return "annotation"
    return "runtime" if RUNTIME_API.fullmatch(name) else "op"


def _host_table(columns: dict[str, Any]) -> pd.DataFrame:
    name, kind = columns["name"], columns["kind"]
    # A trace repeats a few hundred names 100k times: match the patterns once per (category, name).
    n_names = max(len(name.values), 1)
    pairs, which = np.unique(kind.codes.astype(np.int64) * n_names + name.codes, return_inverse=True)
    source = Coded(which.reshape(-1), [_source(kind.values[p // n_names], name.values[p % n_names])
                                       for p in pairs.tolist()])
    ts, dur = columns["ts"], columns["dur"]
    frame = pd.DataFrame({
        "name": _objects(name), "source": _objects(source),
        "tid": columns["tid"], "ts": ts, "dur": dur, "end": ts + dur,
        "external_id": columns["external_id"], "correlation": columns["correlation"],
        "input_dims": _objects(columns["input_dims"]), "input_types": _objects(columns["input_types"]),
        "concrete_inputs": _objects(columns["concrete_inputs"])})
    return nest(frame)


def _objects(coded: Coded) -> pd.Series:
    """A coded column as Python objects, as they are (pandas 3 would turn texts into its string
    dtype, and copy them: equal texts must stay one shared object)."""
    table = np.empty(len(coded.values), dtype=object)
    for i, value in enumerate(coded.values):   # one by one: a list value must stay one object
        table[i] = value
    return pd.Series(table[coded.codes], dtype=object, copy=False)


def nest(frame: pd.DataFrame) -> pd.DataFrame:
    """Parent of each host event: the innermost event of the same thread that encloses it.

    Per thread, events sorted by start (longer first on ties) are walked with a stack, the way
    torch builds its own tree from the same timestamps. Like torch (``EventList._remove_dup_nodes``),
    an event that is the only child of a parent with the same name (an op re-dispatching to its own
    overload, e.g. ``aten::sum`` in ``aten::sum``) is merged into that parent. Returns the frame
    with ``parent`` (row index or -1), ``self_us`` (duration minus direct children), ``ancestors``
    (enclosing op names, outermost first, joined by ">") and ``children`` (direct child op names,
    sorted, joined by "|").
    """
    n = len(frame)
    names = frame["name"].tolist()
    order = np.lexsort((-frame["dur"].to_numpy(), frame["ts"].to_numpy(), frame["tid"].to_numpy())).tolist()
    tids = frame["tid"].tolist()      # plain lists: element access in the loop is several times
    starts = frame["ts"].tolist()     # faster than on numpy arrays
    ends = frame["end"].tolist()
    parent = [-1] * n
    stack: list[int] = []
    current_tid = None
    # A child never outlasts its parent. With whole-microsecond timestamps (torch 2.3), an op that
    # starts in the last microsecond of the one before it seems to start inside it; ending after
    # it by more than the rounding (1 us) shows it is a sibling. ns timestamps: float error only.
    ts_all = frame["ts"].to_numpy()
    slack = 1e-3 / 2 if bool((ts_all != np.floor(ts_all)).any()) else 1.0
    for i in order:
        if tids[i] != current_tid:
            stack, current_tid = [], tids[i]
        start, end = starts[i], ends[i]
        while stack and (ends[stack[-1]] <= start or end > ends[stack[-1]] + slack):
            stack.pop()
        if stack:
            parent[i] = stack[-1]
        stack.append(i)
    keep = _merge_same_name_only_children(parent, names, order)
    if not all(keep):
        new_index = np.cumsum(keep) - 1
        frame = frame[np.array(keep)].reset_index(drop=True)
        parent = [int(new_index[p]) if p >= 0 else -1 for p, k in zip(parent, keep) if k]
        names = frame["name"].tolist()
        order = np.lexsort((-frame["dur"].to_numpy(), frame["ts"].to_numpy(), frame["tid"].to_numpy())).tolist()
        n = len(frame)
    op_names = {x: is_op_name(x) for x in set(names)}
    is_op = [op_names[x] for x in names]
    ancestors = [""] * n
    depth = [0] * n   # ops in ancestors[i]: past MAX_ANCESTORS the outermost are dropped, so that a
    # hostile 5,000-deep trace costs linear, not quadratic, time and memory. Equal chains are one
    # string object (a trace repeats a few thousand chains 10^5 times): the table's memory.
    chains: dict[tuple[str, str], str] = {}
    for i in order:
        p = parent[i]
        if p >= 0:
            if not is_op[p]:
                ancestors[i], depth[i] = ancestors[p], depth[p]
                continue
            key = (ancestors[p], names[p])
            chain = chains.get(key)
            if chain is None:
                chain = chains[key] = ancestors[p] + ">" + names[p] if ancestors[p] else names[p]
            if depth[p] < MAX_ANCESTORS:
                ancestors[i], depth[i] = chain, depth[p] + 1
            else:
                ancestors[i], depth[i] = chain[chain.index(">") + 1:], depth[p]
    parent_arr = np.array(parent, dtype=np.int64)
    dur = frame["dur"].to_numpy()
    child_time = np.zeros(n)
    has_parent = parent_arr >= 0
    np.add.at(child_time, parent_arr[has_parent], dur[has_parent])
    children: dict[int, set] = {}   # only events with op children: most have none
    for c in np.flatnonzero(has_parent).tolist():
        if is_op[c]:
            children.setdefault(parent[c], set()).add(names[c])
    joined: dict[frozenset, str] = {}
    child_names = [""] * n
    for i, kids in children.items():
        kids_key = frozenset(kids)
        text = joined.get(kids_key)
        child_names[i] = text if text is not None else joined.setdefault(kids_key, "|".join(sorted(kids)))
    frame["parent"] = parent_arr
    frame["self_us"] = np.maximum(dur - child_time, 0.0)
    frame["ancestors"] = pd.Series(ancestors, dtype=object, index=frame.index)   # shared strings stay shared
    frame["children"] = pd.Series(child_names, dtype=object, index=frame.index)
    return frame


MAX_ANCESTORS = 128  # torch's deepest real nesting is a few dozen ops


def _merge_same_name_only_children(parent: list[int], names: list[str], order: list[int]) -> list[bool]:
    """Marks (False) each event that is the only child of a same-named parent, and hands its
    children to that parent, until none is left (``parent`` is updated in place)."""
    n = len(parent)
    par = np.array(parent, dtype=np.int64)
    codes = pd.factorize(pd.Series(names, dtype=object))[0]
    keep = np.ones(n, dtype=bool)
    while True:
        live = (par >= 0) & keep
        count = np.bincount(par[live], minlength=n)
        safe = np.where(par >= 0, par, 0)
        merged = live & (codes[safe] == codes) & (count[safe] == 1)
        if not merged.any():
            break
        keep &= ~merged
        target = np.arange(n)
        target[merged] = par[merged]
        while True:  # a chain of merged events ends at its first kept ancestor
            nxt = target[target]
            if (nxt == target).all():
                break
            target = nxt
        par = np.where(par >= 0, target[safe], -1)
    parent[:] = par.tolist()
    return keep.tolist()


def _device_table(columns: dict[str, Any], host: pd.DataFrame) -> pd.DataFrame:
    ts, dur = columns["ts"], columns["dur"]
    frame = pd.DataFrame({
        "name": _objects(columns["name"]), "kind": _objects(columns["kind"]),
        "ts": ts, "dur": dur, "end": ts + dur, "stream": columns["stream"], "device": columns["device"],
        "correlation": columns["correlation"], "external_id": columns["external_id"]})
    frame["launcher"] = _launchers(frame, host)
    return frame


def _launchers(device: pd.DataFrame, host: pd.DataFrame) -> np.ndarray:
    """The host event a device event belongs to, by the one link every Kineto format shares:

    device event -> runtime call with the same ``correlation`` (cudaLaunchKernel, hipLaunchKernel,
    cudaMemcpyAsync ...) -> the host event enclosing that call (its ``parent``, found by time
    containment on the call's thread). Only where no runtime call carries the correlation (the
    call fell outside the profiling window, a graph replay) is the device event's ``External id``
    looked up among ops, and then only if that op started before the device event did and the
    trace numbers External ids apart from correlations: 2023-era traces write the correlation
    into a device event's External id, a different numbering from the ops' External ids, so the
    lookup would land on unrelated ops.
    """
    out = np.full(len(device), -1, dtype=np.int64)
    if host.empty or device.empty:
        return out
    rt = host[(host["source"] == "runtime") & (host["correlation"] >= 0)]
    rt = rt[~rt["correlation"].duplicated(keep="first")]
    by_corr = pd.Series(rt["parent"].to_numpy(), index=rt["correlation"].to_numpy())
    corr = device["correlation"].to_numpy()
    via_corr = by_corr.reindex(corr).to_numpy(dtype=float)
    ext = device["external_id"].to_numpy()
    matched = ~np.isnan(via_corr)
    # The 2023 format: every device event matched through its correlation repeats it as External id.
    ext_is_corr = bool(matched.any()) and bool((ext[matched] == corr[matched]).all())
    pick = via_corr
    if not ext_is_corr:
        rec = host[(host["source"] != "runtime") & (host["external_id"] >= 0)]
        rec = rec[~rec["external_id"].duplicated(keep="first")]
        by_ext = pd.Series(rec.index.to_numpy(), index=rec["external_id"].to_numpy())
        found = by_ext.reindex(ext).to_numpy(dtype=float)
        ok = ~np.isnan(found)
        starts = host["ts"].to_numpy()
        ok[ok] = starts[found[ok].astype(np.int64)] <= device["ts"].to_numpy()[ok] + 1.0  # launched before it ran
        pick = np.where(matched, via_corr, np.where(ok, found, np.nan))
    return np.nan_to_num(pick, nan=-1).astype(np.int64)


def _python_table(columns: dict[str, Any]) -> pd.DataFrame:
    ts, dur = columns["ts"], columns["dur"]
    return pd.DataFrame({
        "name": _objects(columns["name"]), "tid": columns["tid"], "ts": ts, "dur": dur,
        "python_id": columns["python_id"], "python_parent_id": columns["python_parent_id"], "end": ts + dur})


def _memory_table(columns: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(columns)


# ---- derived per-op facts: what torch.profiler computes from the same inputs -------------------
def flops(name: str, dims, concrete) -> float:
    """Floating-point operations of matmul, conv2d, mul and add, by torch.profiler's conventions
    (2 per multiply-add; one per element for mul/add), from the recorded input dims. The trace
    does not carry torch's own estimate, so the same formulas are applied to its inputs."""
    if not dims:
        return 0.0
    try:
        if name in ("aten::mm", "aten::addmm"):
            a, b = (dims[0], dims[1]) if name == "aten::mm" else (dims[1], dims[2])
            if not a or not b or a[-1] == 0:
                return 0.0
            return 2.0 * _prod(a) / a[-1] * _prod(b)
        if name in ("aten::bmm", "aten::baddbmm"):
            a, b = (dims[0], dims[1]) if name == "aten::bmm" else (dims[1], dims[2])
            if not a or not b or a[0] == 0 or a[-1] == 0:
                return 0.0
            return 2.0 * _prod(a) / a[-1] / a[0] * _prod(b)
        if name in ("aten::mul", "aten::add"):  # a 0-d tensor (shape []) is one element, as torch counts it
            return float(_prod(dims[0])) if isinstance(dims[0], list) else 0.0
        if name == "aten::conv2d":
            x, w = dims[0], dims[1]
            if len(x) != 4 or len(w) != 4 or not concrete or len(concrete) < 7:
                return 0.0
            stride, padding, dilation = (_ints(concrete[i]) for i in (3, 4, 5))
            groups = int(concrete[6] or 1)
            if len(stride) != 2 or len(padding) != 2 or len(dilation) != 2 or not groups or 0 in stride:
                return 0.0
            oh = (x[2] + 2 * padding[0] - dilation[0] * (w[2] - 1) - 1) // stride[0] + 1
            ow = (x[3] + 2 * padding[1] - dilation[1] * (w[3] - 1) - 1) // stride[1] + 1
            return float(2 * x[0] * oh * ow * w[2] * w[3] * x[1] * w[0] // groups)
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return 0.0
    return 0.0


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _ints(text) -> list[int]:
    text = str(text or "").strip("[]() ")
    return [int(t) for t in text.replace(" ", "").split(",") if t] if text else []
