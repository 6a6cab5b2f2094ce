"""Reads a torch.profiler Chrome trace (.json or .json.gz) into typed interval tables.

One reader serves both the live capture (torch writes the trace, this reads it back: far cheaper
than ``prof.events()``, which builds a Python object per event) and ``import-trace`` (traces from
a user's own script, TensorBoard's plugin or this tool's ``--trace``). The tables keep start and
end times, so the attribution stage can walk the timeline (attribution/timeline.py) before
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

import numpy as np
import pandas as pd

from .events import INDUCTOR_CPU_KERNEL, RUNTIME_API

try:  # orjson parses large traces about twice as fast; the standard library is the fallback
    import orjson as _json

    _loads = _json.loads
except ImportError:  # pragma: no cover - orjson is a declared dependency
    import json as _json

    _loads = _json.loads

# Event categories across torch versions (1.8-1.10 wrote capitalised names), lower-cased.
_HOST = {"cpu_op": "op", "operator": "op", "user_annotation": "annotation", "cuda_runtime": "runtime",
         "runtime": "runtime", "cuda_driver": "runtime", "driver": "runtime"}
_DEVICE = {"kernel": "kernel", "gpu_memcpy": "memcpy", "memcpy": "memcpy", "gpu_memset": "memset",
           "memset": "memset"}
# Category as written -> 0 host, 1 device, 2 Python function (any capitalisation torch used).
_KINDS = {c: k for names, k in ((_HOST, 0), (_DEVICE, 1), ({"python_function": 0}, 2))
          for n in names for c in (n, n.capitalize(), n.title().replace("_", ""), n.upper())}


class TraceError(Exception):
    """A file that is not a readable Chrome trace (the CLI turns it into a user error)."""


@dataclass
class Trace:
    host: pd.DataFrame
    device: pd.DataFrame
    python: pd.DataFrame
    memory: pd.DataFrame
    span_us: tuple[float, float]   # first start and last end of any host or device interval
    metadata: dict                 # top-level keys other than traceEvents (deviceProperties, ...)

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
    """Reads ``path`` (gzip recognised by its magic bytes, whatever the suffix)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        data = _loads(raw)
        del raw  # the parsed events are the peak of memory: do not hold the text beside them
    except (OSError, EOFError, ValueError) as exc:
        raise TraceError(f"not a readable Chrome trace ({type(exc).__name__}: {str(exc)[:80]})") from None
    if isinstance(data, list):  # the bare-array form of the Chrome trace format
        data = {"traceEvents": data}
    if not isinstance(data, dict) or not isinstance(data.get("traceEvents"), list):
        raise TraceError("no traceEvents list: not a Chrome trace")
    return from_events(data["traceEvents"], {k: v for k, v in data.items() if k != "traceEvents"})


def from_events(events: list, metadata: dict | None = None) -> Trace:
    host, device, python, memory = [], [], [], []
    kinds = _KINDS
    for e in events:
        if not isinstance(e, dict):
            continue
        ph = e.get("ph")
        if ph == "X":
            kind = kinds.get(e.get("cat"))
            if kind is None:
                continue
            (host if kind == 0 else device if kind == 1 else python).append(e)
        elif ph == "i" and e.get("name") == "[memory]":
            memory.append(e)
    h = _host_table(host)
    d = _device_table(device, h)
    starts = [t for t in (h["ts"].min() if len(h) else None, d["ts"].min() if len(d) else None) if t is not None]
    ends = [t for t in (h["end"].max() if len(h) else None, d["end"].max() if len(d) else None) if t is not None]
    span = (float(min(starts)), float(max(ends))) if starts else (0.0, 0.0)
    return Trace(h, d, _python_table(python), _memory_table(memory), span, metadata or {})


def is_op_name(name: str) -> bool:
    """Dispatcher ops have a name space; CUDA runtime calls and Inductor's CPU kernels are ops too."""
    return "::" in name or bool(RUNTIME_API.fullmatch(name)) or bool(INDUCTOR_CPU_KERNEL.fullmatch(name))


def _tid(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return hash(value) & 0x7FFFFFFF


def _host_table(events: list[dict]) -> pd.DataFrame:
    # Column by column with comprehensions: the largest traces hold 100k+ host events.
    args = [e.get("args") or {} for e in events]
    name = [e.get("name", "") for e in events]
    cats = [_HOST.get(str(e.get("cat", "")).lower(), "op") for e in events]
    source = ["op" if INDUCTOR_CPU_KERNEL.fullmatch(n) else
              "annotation" if c == "annotation" or not is_op_name(n) else
              "runtime" if RUNTIME_API.fullmatch(n) else "op" for c, n in zip(cats, name)]
    ts = np.array([float(e.get("ts", 0.0)) for e in events], dtype=float)
    dur = np.array([float(e.get("dur", 0.0) or 0.0) for e in events], dtype=float)
    frame = pd.DataFrame({
        "name": name, "source": source, "tid": np.array([_tid(e.get("tid")) for e in events], dtype=np.int64),
        "ts": ts, "dur": dur, "end": ts + dur,
        "external_id": np.array([int(a.get("External id", -1)) for a in args], dtype=np.int64),
        "correlation": np.array([int(a.get("correlation", -1)) for a in args], dtype=np.int64),
        "input_dims": [a.get("Input Dims") for a in args], "input_types": [a.get("Input type") for a in args],
        "concrete_inputs": [a.get("Concrete Inputs") for a in args]})
    return _nest(frame)


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
    for i in order:
        if tids[i] != current_tid:
            stack, current_tid = [], tids[i]
        start = starts[i]
        while stack and ends[stack[-1]] <= start:
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
    is_op = [is_op_name(x) for x in names]
    ancestors = [""] * n
    for i in order:  # parents come before their children in this order
        p = parent[i]
        if p >= 0:
            ancestors[i] = (ancestors[p] + ">" + names[p] if ancestors[p] else names[p]) if is_op[p] else ancestors[p]
    parent_arr = np.array(parent, dtype=np.int64)
    dur = frame["dur"].to_numpy()
    child_time = np.zeros(n)
    has_parent = parent_arr >= 0
    np.add.at(child_time, parent_arr[has_parent], dur[has_parent])
    children: list[set] = [set() for _ in range(n)]
    for c in np.flatnonzero(has_parent).tolist():
        if is_op[c]:
            children[parent[c]].add(names[c])
    frame["parent"] = parent_arr
    frame["self_us"] = np.maximum(dur - child_time, 0.0)
    frame["ancestors"] = ancestors
    frame["children"] = ["|".join(sorted(s)) if s else "" for s in children]
    return frame


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


def _device_table(events: list[dict], host: pd.DataFrame) -> pd.DataFrame:
    args = [e.get("args") or {} for e in events]
    ts = np.array([float(e.get("ts", 0.0)) for e in events], dtype=float)
    dur = np.array([float(e.get("dur", 0.0) or 0.0) for e in events], dtype=float)
    frame = pd.DataFrame({
        "name": [e.get("name", "") for e in events],
        "kind": [_DEVICE.get(str(e.get("cat", "")).lower(), "kernel") for e in events],
        "ts": ts, "dur": dur, "end": ts + dur,
        "stream": np.array([_int(a.get("stream"), -1) for a in args], dtype=np.int64),
        "device": np.array([_int(a.get("device"), 0) for a in args], dtype=np.int64),
        "correlation": np.array([_int(a.get("correlation"), -1) for a in args], dtype=np.int64),
        "external_id": np.array([_int(a.get("External id"), -1) for a in args], dtype=np.int64)})
    frame["launcher"] = _launchers(frame, host)
    return frame


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _launchers(device: pd.DataFrame, host: pd.DataFrame) -> np.ndarray:
    """The host event a device event belongs to: the op or range with its External id (what torch
    attaches kernels to), else the op enclosing the runtime call with its correlation id."""
    out = np.full(len(device), -1, dtype=np.int64)
    if host.empty or device.empty:
        return out
    rec = host[host["source"] != "runtime"]
    by_ext = pd.Series(rec.index.to_numpy(), index=rec["external_id"].to_numpy())
    by_ext = by_ext[~by_ext.index.duplicated(keep="first") & (by_ext.index >= 0)]
    found = by_ext.reindex(device["external_id"].to_numpy()).to_numpy()
    rt = host[(host["source"] == "runtime") & (host["correlation"] >= 0)]
    by_corr = pd.Series(rt["parent"].to_numpy(), index=rt["correlation"].to_numpy())
    by_corr = by_corr[~by_corr.index.duplicated(keep="first")]
    via_corr = by_corr.reindex(device["correlation"].to_numpy()).to_numpy()
    pick = np.where(np.isnan(found.astype(float)), via_corr, found)
    return np.nan_to_num(pick.astype(float), nan=-1).astype(np.int64)


def _python_table(events: list[dict]) -> pd.DataFrame:
    rows = [(e.get("name", ""), _tid(e.get("tid")), float(e.get("ts", 0.0)), float(e.get("dur", 0.0) or 0.0),
             int((e.get("args") or {}).get("Python id", -1)), int((e.get("args") or {}).get("Python parent id", -1)))
            for e in events]
    frame = pd.DataFrame(rows, columns=["name", "tid", "ts", "dur", "python_id", "python_parent_id"])
    frame["end"] = frame["ts"] + frame["dur"]
    return frame


def _memory_table(events: list[dict]) -> pd.DataFrame:
    rows = []
    for e in events:
        args = e.get("args") or {}
        rows.append((float(e.get("ts", 0.0)), float(args.get("Bytes", 0) or 0),
                     float(args.get("Total Allocated", np.nan)), int(args.get("Device Type", 0) or 0)))
    return pd.DataFrame(rows, columns=["ts", "bytes", "total_allocated", "device_type"])


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
        if name in ("aten::mul", "aten::add"):
            return float(_prod(dims[0])) if dims[0] else 0.0
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
