"""Reads a torch.profiler Chrome trace (.json or .json.gz) into typed interval tables.

One reader serves both the live capture (torch writes the trace, this reads it back: far cheaper
than ``prof.events()``, which builds a Python object per event) and ``import-trace`` (traces from
a user's own script, TensorBoard's plugin or this tool's ``--trace``). The tables keep start and
end times, so the attribution stage can walk the timeline (nscharacterize/profiler/timeline.py) before
anything is aggregated.

- ``host``: host events (dispatcher ops, user ranges, CUDA runtime/driver calls), with their
  thread, External id, correlation, input dims/types, and the nesting rebuilt per thread from the
  timestamps (``parent``, ``ancestors``, ``children``, ``self_us``).
- ``device``: kernels, memcpy and memset with stream, correlation and the host event that launched
  them (``launcher``, an index into ``host``).
- ``python``: Python function events (only when the trace was recorded with ``with_stack``).
- ``memory``: allocation records (``[memory]``) with bytes and device type.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

import msgspec
import numpy as np
import pandas as pd

from .events import INDUCTOR_CPU_KERNEL, RUNTIME_API
from .gc_pause import gc_paused, release_freed_memory

# Event categories across torch versions (1.8-1.10 wrote capitalised names), lower-cased.
_HOST = {"cpu_op": "op", "operator": "op", "user_annotation": "annotation", "cuda_runtime": "runtime",
         "runtime": "runtime", "cuda_driver": "runtime", "driver": "runtime"}
_DEVICE = {"kernel": "kernel", "gpu_memcpy": "memcpy", "memcpy": "memcpy", "gpu_memset": "memset",
           "memset": "memset"}
# Category as written -> 0 host, 1 device, 2 Python function (any capitalisation torch used).
_KINDS = {c: k for names, k in ((_HOST, 0), (_DEVICE, 1), ({"python_function": 0}, 2))
          for n in names for c in (n, n.capitalize(), n.title().replace("_", ""), n.upper())}


# ---- the parts of the Chrome trace format this reader keeps ------------------------------------
# Decoding straight into these typed records (msgspec) skips every field the tables do not use
# and builds no dict per event: about 3x faster than a generic JSON parser on a 70 MB trace, and
# the one place that says which fields of a trace the tool reads. Values stay loosely typed (Any)
# where torch versions and other tools disagree; the table builders below convert them.
#
# The three per-argument lists of an op (its input dims, types and concrete inputs) are kept as
# their raw JSON text (msgspec.Raw: a view into the document) and decoded once per distinct
# text: a trace repeats the same few thousand argument lists 10^5 times, and as Python lists
# they were most of the decoded trace's memory (a 70 MB trace: ~190 MB of objects, ~870 B an
# event) and of the time spent checking them (issue 22).
# ``gc=False``: these records never form reference cycles, so the collector need not track them.
_NULL = msgspec.Raw(b"null")


class _Args(msgspec.Struct, gc=False):
    external_id: Any = msgspec.field(default=None, name="External id")
    correlation: Any = None
    input_dims: msgspec.Raw = msgspec.field(default=_NULL, name="Input Dims")
    input_types: msgspec.Raw = msgspec.field(default=_NULL, name="Input type")
    concrete_inputs: msgspec.Raw = msgspec.field(default=_NULL, name="Concrete Inputs")
    stream: Any = None
    device: Any = None
    python_id: Any = msgspec.field(default=None, name="Python id")
    python_parent_id: Any = msgspec.field(default=None, name="Python parent id")
    bytes: Any = msgspec.field(default=None, name="Bytes")
    total_allocated: Any = msgspec.field(default=None, name="Total Allocated")
    device_type: Any = msgspec.field(default=None, name="Device Type")
    addr: Any = msgspec.field(default=None, name="Addr")


_NO_ARGS = _Args()


class _Event(msgspec.Struct, gc=False):
    ph: Any = None
    cat: Any = None
    name: Any = ""
    ts: Any = 0.0
    dur: Any = 0.0
    tid: Any = None
    args: Union[_Args, None] = None


class _Document(msgspec.Struct, gc=False):
    traceEvents: list[_Event]
    # The top-level facts the reports read (the recording machine); other keys are not kept.
    deviceProperties: Any = None
    cuda_runtime_version: Any = None
    cuda_driver_version: Any = None
    schemaVersion: Any = None
    distributedInfo: Any = None


_DECODER = msgspec.json.Decoder(Union[_Document, list[_Event]])  # object form, or the bare array


class TraceError(Exception):
    """A file that is not a readable Chrome trace (the CLI turns it into a user error)."""


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
    # host ranges. import-trace says so instead of staying silent (_NOT_ACTIVITY lists the harmless).
    unread: dict = None  # type: ignore[assignment]

    @property
    def wall_us(self) -> float:
        return self.span_us[1] - self.span_us[0]

    @property
    def ns_resolution(self) -> bool:
        """torch >= 2.4 writes nanosecond timestamps (3 decimals of a microsecond); 2.3 writes whole
        microseconds, where the nesting of sub-microsecond ops is ambiguous."""
        ts = self.host["ts"].to_numpy()
        return bool(len(ts)) and bool((ts != np.floor(ts)).any())


@gc_paused()
def load(path: str | Path) -> Trace:
    """Reads ``path`` (gzip recognised by its magic bytes, whatever the suffix). The collector is
    paused: a large trace allocates millions of objects and none of them form cycles."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        doc = _DECODER.decode(raw)
        del raw  # the decoded events are the peak of memory: do not hold the text beside them
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise TraceError(f"not a readable Chrome trace ({type(exc).__name__}: {str(exc)[:80]})") from None
    except msgspec.ValidationError as exc:
        raise TraceError(f"not a Chrome trace: {str(exc)[:120]}") from None
    except msgspec.DecodeError as exc:
        raise TraceError(f"not a readable Chrome trace (invalid JSON: {str(exc)[:80]})") from None
    except RecursionError:
        raise TraceError("not a readable Chrome trace (nested too deeply)") from None
    if isinstance(doc, list):
        trace = _from_events(doc, {})
    else:
        meta = {k: getattr(doc, k) for k in doc.__struct_fields__ if k != "traceEvents" and getattr(doc, k) is not None}
        trace = _from_events(doc.traceEvents, meta)
    del doc   # the decoded records: the tables hold what is kept of them
    release_freed_memory()
    return trace


@gc_paused()
def load_many(paths: "Sequence[str | Path]") -> Trace:
    """Several traces of one process, recorded one after the other (the spooled samples of a live
    run: nscharacterize/profiler/spool.py), read as one trace. Each file numbers its correlations
    and External ids afresh, so each file's are moved into a range of their own; the recording
    machine's facts are the first file's."""
    events: list[_Event] = []
    meta: dict = {}
    for n, path in enumerate(paths):
        try:
            doc = _DECODER.decode(Path(path).read_bytes())
        except (OSError, msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise TraceError(f"{path}: not a readable Chrome trace ({type(exc).__name__})") from None
        part = doc if isinstance(doc, list) else doc.traceEvents
        if not isinstance(doc, list) and n == 0:
            meta = {k: getattr(doc, k) for k in doc.__struct_fields__
                    if k != "traceEvents" and getattr(doc, k) is not None}
        if n:
            shift = n << 40
            for e in part:
                a = e.args
                if a is not None:
                    if type(a.correlation) is int:
                        a.correlation += shift
                    if type(a.external_id) is int:
                        a.external_id += shift
        events.extend(part)
    return _from_events(events, meta)


def _from_events(events: list[_Event], metadata: dict) -> Trace:
    host: list[_Event] = []
    device: list[_Event] = []
    python: list[_Event] = []
    memory: list[_Event] = []
    kinds = _KINDS
    unread: dict = {}
    for e in events:
        ph = e.ph
        if ph == "X":
            kind = kinds.get(e.cat) if type(e.cat) is str else None  # a list or object is no category
            if kind is None:
                cat = e.cat if type(e.cat) is str else str(e.cat)[:80]   # a list is no key
                unread[cat] = unread.get(cat, 0) + 1
                continue
            (host if kind == 0 else device if kind == 1 else python).append(e)
        elif ph == "i" and e.name == "[memory]":
            memory.append(e)
    h = _host_table(host)
    d = _device_table(device, h)
    starts = [t for t in (h["ts"].min() if len(h) else None, d["ts"].min() if len(d) else None) if t is not None]
    ends = [t for t in (h["end"].max() if len(h) else None, d["end"].max() if len(d) else None) if t is not None]
    span = (float(min(starts)), float(max(ends))) if starts else (0.0, 0.0)
    unread = {str(c): n for c, n in unread.items() if str(c).lower() not in _NOT_ACTIVITY}
    return Trace(h, d, _python_table(python), _memory_table(memory), span, metadata, unread)


# Categories of complete events that hold no activity of their own: the profiler's span and
# overhead, synchronisation waits already inside runtime calls, GPU-side copies of host ranges,
# flow arrows, CUPTI range-profiler ranges.
_NOT_ACTIVITY = {"trace", "overhead", "cuda_sync", "gpu_user_annotation", "ac2g", "cuda_profiler_range",
                 "python_function", "none", "fwdbwd", "forward_backward"}


def name_mask(names, test) -> np.ndarray:
    """``test(name)`` for each event name (a column or list), as a bool array, computed once per
    distinct name: a trace repeats a few hundred names 10^5 times. A name that is not text is False."""
    codes, uniques = pd.factorize(np.asarray(names, dtype=object))
    per_name = np.fromiter((isinstance(u, str) and bool(test(u)) for u in uniques), dtype=bool, count=len(uniques))
    return per_name[codes]


def is_op_name(name: str) -> bool:
    """Dispatcher ops have a name space; CUDA runtime calls and Inductor's CPU kernels are ops too."""
    return "::" in name or bool(RUNTIME_API.fullmatch(name)) or bool(INDUCTOR_CPU_KERNEL.fullmatch(name))


_INT64 = 2**63


def _tid(value) -> int:
    try:
        number = int(value)
        if -_INT64 <= number < _INT64:
            return number
    except (TypeError, ValueError, OverflowError):
        pass
    return hash(str(value)) & 0x7FFFFFFF  # text, a list, a number past int64: a name, numbered


def _tid_column(values: list) -> np.ndarray:
    """int64 thread ids; a named thread (text) gets a number from its name, the same within one read."""
    return np.array([v if type(v) is int and -_INT64 <= v < _INT64 else _tid(v) for v in values], dtype=np.int64)


def _int_column(values: list, default: int) -> np.ndarray:
    """int64 column; values that are not integers (missing, text, past int64) become ``default``."""
    return np.array([v if type(v) is int and -_INT64 <= v < _INT64 else default if v is None else _int(v, default)
                     for v in values], dtype=np.int64)


def _float_column(values: list, missing: float = 0.0) -> np.ndarray:
    """float column; missing values (None) become ``missing``, what is not a finite number 0."""
    try:
        out = np.array(values, dtype=float)  # None becomes NaN here; JSON itself has no NaN
        if out.ndim != 1:  # lists among the values ([1] as a duration)
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        out = np.array([np.nan if v is None else _float(v) for v in values], dtype=float)
    if missing == missing:  # not NaN
        out[np.isnan(out)] = missing
    return out


def _float(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # text, a list, a 400-digit integer
        return 0.0
    return number if np.isfinite(number) else 0.0


_MAX_DIM = 2**62


def _ints_ok(values) -> bool:
    return all(type(d) is int and -_MAX_DIM < d < _MAX_DIM for d in values)


def _dims(value) -> list | None:
    """Input Dims as torch writes them (per argument: a tensor's dims, a tensor list's dims, or []),
    else None: a trace from elsewhere may hold anything there, and flops and bytes multiply it."""
    if value is None or not isinstance(value, list):
        return None
    for arg in value:
        if not isinstance(arg, list) or not all(type(d) is int and -_MAX_DIM < d < _MAX_DIM
                                                or isinstance(d, list) and _ints_ok(d) for d in arg):
            return None
    return value


def _types(value) -> list | None:
    """Input type per argument as text (None where torch wrote none), else None."""
    if not isinstance(value, list):
        return None
    return [t if t is None or type(t) is str else str(t)[:100] for t in value]


def _source(category: str, name: str) -> str:
    """The event source of a host event: op, runtime or annotation (nscharacterize/profiler/events.py)."""
    if INDUCTOR_CPU_KERNEL.fullmatch(name):
        return "op"
    if category == "annotation" or not is_op_name(name):
        return "annotation"
    return "runtime" if RUNTIME_API.fullmatch(name) else "op"


def _host_table(events: list[_Event]) -> pd.DataFrame:
    # Column by column with comprehensions: the largest traces hold 100k+ host events.
    args = [e.args or _NO_ARGS for e in events]
    name = _names(events)
    kind_of = {c: _HOST.get(c.lower(), "op") for c in {e.cat for e in events}}   # text: see _from_events
    cats = [kind_of[e.cat] for e in events]
    # A trace repeats a few hundred names 100k times: match the patterns once per (category, name).
    sources = {key: _source(*key) for key in set(zip(cats, name))}
    source = [sources[key] for key in zip(cats, name)]
    ts = _float_column([e.ts for e in events])
    dur = _float_column([e.dur for e in events])
    frame = pd.DataFrame({
        "name": pd.Series(name, dtype=object), "source": pd.Series(source, dtype=object),
        "tid": _tid_column([e.tid for e in events]),
        "ts": ts, "dur": dur, "end": ts + dur,
        "external_id": _int_column([a.external_id for a in args], -1),
        "correlation": _int_column([a.correlation for a in args], -1),
        "input_dims": pd.Series(_raw_column([a.input_dims for a in args], _dims), dtype=object),
        "input_types": pd.Series(_raw_column([a.input_types for a in args], _types), dtype=object),
        "concrete_inputs": pd.Series(_raw_column([a.concrete_inputs for a in args], None), dtype=object)})
    return _nest(frame)


def _names(events: list[_Event]) -> list[str]:
    """Event names as text, one string object per distinct name (the decoder makes one per event;
    a trace repeats a few hundred names 10^5 times)."""
    seen: dict[str, str] = {}
    return [seen.setdefault(n, n) for n in (e.name if type(e.name) is str else str(e.name) for e in events)]


def _raw_column(values: list[msgspec.Raw], check) -> list:
    """Raw JSON values decoded (and, with ``check``, checked) once per distinct text; equal texts
    share one decoded object, which nothing downstream modifies."""
    seen: dict[bytes, Any] = {b"null": None}
    out = []
    for raw in values:
        key = bytes(raw)
        try:
            value = seen[key]
        except KeyError:
            value = msgspec.json.decode(key)
            value = seen[key] = check(value) if check is not None else value
        out.append(value)
    return out


def _nest(frame: pd.DataFrame) -> pd.DataFrame:
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


def _device_table(events: list[_Event], host: pd.DataFrame) -> pd.DataFrame:
    args = [e.args or _NO_ARGS for e in events]
    ts = _float_column([e.ts for e in events])
    dur = _float_column([e.dur for e in events])
    frame = pd.DataFrame({
        "name": pd.Series(_names(events), dtype=object),
        "kind": pd.Series([_DEVICE.get(str(e.cat).lower(), "kernel") for e in events], dtype=object),
        "ts": ts, "dur": dur, "end": ts + dur,
        "stream": _int_column([a.stream for a in args], -1),
        "device": _int_column([a.device for a in args], 0),
        "correlation": _int_column([a.correlation for a in args], -1),
        "external_id": _int_column([a.external_id for a in args], -1)})
    frame["launcher"] = _launchers(frame, host)
    return frame


def _int(value, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return number if -_INT64 <= number < _INT64 else default


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


def _python_table(events: list[_Event]) -> pd.DataFrame:
    args = [e.args or _NO_ARGS for e in events]
    ts = _float_column([e.ts for e in events])
    dur = _float_column([e.dur for e in events])
    return pd.DataFrame({
        "name": pd.Series([str(e.name) for e in events], dtype=object),
        "tid": _tid_column([e.tid for e in events]), "ts": ts, "dur": dur,
        "python_id": _int_column([a.python_id for a in args], -1),
        "python_parent_id": _int_column([a.python_parent_id for a in args], -1), "end": ts + dur})


def _memory_table(events: list[_Event]) -> pd.DataFrame:
    args = [e.args or _NO_ARGS for e in events]
    total = [a.total_allocated for a in args]
    return pd.DataFrame({
        "ts": _float_column([e.ts for e in events]), "bytes": _float_column([a.bytes for a in args]),
        "total_allocated": _float_column(total, missing=np.nan),
        "device_type": _int_column([a.device_type for a in args], 0),
        "addr": _int_column([a.addr for a in args], -1)})


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
