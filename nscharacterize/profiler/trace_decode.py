"""The first half of reading a Chrome trace: file bytes -> typed columns, without pandas or numpy.

``decode`` reads a torch.profiler trace (.json or .json.gz), keeps the events the tables use and
turns them into columns: numbers as flat typed arrays (the standard library's ``array``: int64,
float64), texts and argument lists as int32 codes into their distinct values (a trace repeats a
few hundred names and a few thousand argument lists 10^5 times).
nscharacterize/profiler/chrome_trace.py views the arrays as numpy arrays (no copy) and builds the
interval tables from them (``tables``: pandas, the nesting walk, kernel -> launching op).

Why a stage of its own: it needs only msgspec and the standard library, so ``import-trace`` runs
it in a worker process (nscharacterize/profiler/trace_prefetch.py) while the command imports
pandas and the rest of the tool, and decodes the next rank's file while the tables of the
previous one are built. Its output is a few flat arrays, cheap to hand from one process to
another. Not even numpy: importing it was 0.05 s of the worker's time before it could start on
the file and 12 MiB of its memory while it holds the decoded trace, the peak of the command and
worker together. The import-linter contract "The trace decoder stays light" keeps pandas, pyarrow,
numpy and torch out of it.
"""
from __future__ import annotations

import gzip
import math
import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence, Union

import msgspec

from .gc_pause import gc_paused

# Event categories across torch versions (1.8-1.10 wrote capitalised names), lower-cased. Runtime
# and driver calls come from every backend Kineto traces the same way: CUDA and ROCm (cuda_runtime,
# cuda_driver), Intel GPUs (xpu_runtime, xpu_driver: SYCL/Unified Runtime and Level Zero calls)
# and out-of-tree devices registered as PrivateUse1. Their kernels are "kernel" events in every case.
HOST_CATEGORIES = {"cpu_op": "op", "operator": "op", "user_annotation": "annotation", "cuda_runtime": "runtime",
                   "runtime": "runtime", "cuda_driver": "runtime", "driver": "runtime",
                   "xpu_runtime": "runtime", "xpu_driver": "runtime",
                   "privateuse1_runtime": "runtime", "privateuse1_driver": "runtime"}
DEVICE_CATEGORIES = {"kernel": "kernel", "gpu_memcpy": "memcpy", "memcpy": "memcpy", "gpu_memset": "memset",
                     "memset": "memset"}
# Category as written -> 0 host, 1 device, 2 Python function (any capitalisation torch used).
_KINDS = {c: k for names, k in ((HOST_CATEGORIES, 0), (DEVICE_CATEGORIES, 1), ({"python_function": 0}, 2))
          for n in names for c in (n, n.capitalize(), n.title().replace("_", ""), n.upper())}

# Categories of complete events that hold no activity of their own: the profiler's span and
# overhead, synchronisation waits already inside runtime calls (CUDA's and Intel's), CUDA event
# records (one-microsecond markers on a stream), GPU-side copies of host ranges, flow arrows,
# CUPTI range-profiler ranges.
_NOT_ACTIVITY = {"trace", "overhead", "cuda_sync", "xpu_sync", "cuda_event", "gpu_user_annotation", "ac2g",
                 "cuda_profiler_range", "python_function", "none", "fwdbwd", "forward_backward"}


# ---- the parts of the Chrome trace format this reader keeps ------------------------------------
# Decoding straight into these typed records (msgspec) skips every field the tables do not use
# and builds no dict per event: about 3x faster than a generic JSON parser on a 70 MB trace, and
# the one place that says which fields of a trace the tool reads. Values stay loosely typed (Any)
# where torch versions and other tools disagree; the column builders below convert them.
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
    hip_runtime_version: Any = None   # ROCm traces write these instead of the CUDA ones
    hip_driver_version: Any = None
    schemaVersion: Any = None
    distributedInfo: Any = None
    host_name: Any = None             # the recording machine (torch >= 2.4): import_trace names files with it


_DECODER = msgspec.json.Decoder(Union[_Document, list[_Event]])  # object form, or the bare array


class TraceError(Exception):
    """A file that is not a readable Chrome trace (the CLI turns it into a user error)."""


class NotATrace(TraceError):
    """A JSON file that is recognisably no trace: one that profilers write beside a Kineto trace
    (an execution trace, rocprofv3's JSON) or any JSON object without ``traceEvents`` (a
    config, metrics). ``import-trace`` of a folder leaves it out instead of refusing the folder;
    a file that looks like a trace but is broken still stops it."""


# ---- what the decoder hands on ---------------------------------------------------------------
@dataclass
class Coded:
    """A column of repeated values as ``codes`` (int32, one per event: an ``array`` here, a
    numpy array once chrome_trace has it) into ``values`` (each distinct value once)."""
    codes: Any
    values: list


@dataclass
class Decoded:
    """One trace's columns, per table (chrome_trace.Trace names the tables): ``host``, ``device``,
    ``python`` and ``memory`` map a column name to a typed ``array`` (typecode ``q`` int64, ``d``
    float64) or a ``Coded``; host ``kind`` is op/annotation/runtime by category, device ``kind``
    kernel/memcpy/memset. ``unread``: complete events of categories this reader does not read,
    counted per category (harmless ones left out)."""
    host: dict[str, Any]
    device: dict[str, Any]
    python: dict[str, Any]
    memory: dict[str, Any]
    metadata: dict = field(default_factory=dict)
    unread: dict = field(default_factory=dict)
    repairs: list = field(default_factory=list)   # what was mended to read a file that is not valid JSON


@gc_paused()
def decode(path: str | Path) -> Decoded:
    """Reads ``path`` (gzip recognised by its magic bytes, whatever the suffix) into columns.
    Raises ``TraceError`` for a file that is not a readable Chrome trace. The collector is
    paused: a large trace allocates millions of objects and none of them form cycles."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise TraceError(f"not a readable Chrome trace ({type(exc).__name__}: {str(exc)[:80]})") from None
    repairs: list[str] = []
    try:
        try:
            doc = _DECODER.decode(raw)
        except msgspec.DecodeError as exc:   # not valid JSON: mend what Kineto itself is known to write
            doc, raw, repairs = _decode_mended(raw, exc)
    except msgspec.ValidationError as exc:
        what, no_trace = _other_format(raw)
        raise (NotATrace if no_trace else TraceError)(f"not a Chrome trace: {what or str(exc)[:120]}") from None
    except msgspec.DecodeError as exc:
        raise TraceError(f"not a readable Chrome trace (invalid JSON: {str(exc)[:80]})") from None
    except RecursionError:
        raise TraceError("not a readable Chrome trace (nested too deeply)") from None
    del raw  # the decoded events are the peak of memory: do not hold the text beside them
    decoded = _columns(doc, {}) if isinstance(doc, list) else _columns(doc.traceEvents, _metadata(doc))
    decoded.repairs = repairs
    return decoded


# Where Kineto's files are not JSON, each seen in released torch versions and read by TensorBoard's
# profiler plugin: a bare inf (a zero-duration memcpy's "memory bandwidth (GB/s)", torch 1.8), a bare
# N/A or nan; raw control characters in names (TensorBoard reads with json's strict=False). And
# what an editor or a Windows shell adds: a byte-order mark, bytes in another encoding.
_BARE_VALUE = re.compile(rb"([:\[,]\s*)(-?(?:inf|nan|NaN|Infinity)|N/A)(?=\s*[,}\]])")
_SPACES = bytes.maketrans(bytes(range(0x20)), b" " * 0x20)


def _decode_mended(raw: bytes, error: msgspec.DecodeError) -> tuple[Any, bytes, list[str]]:
    """The document of ``raw`` with those deviations mended, the mended text, and what was mended,
    in words; ``error`` again where nothing known explains it. Only a file that failed to decode pays."""
    repairs = []
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        repairs.append("a UTF-8 byte-order mark (dropped)")
    raw, bare = _BARE_VALUE.subn(rb"\1null", raw)
    if bare:
        repairs.append(f"{bare} bare inf, nan or N/A value(s) (read as missing)")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raw = raw.decode("utf-8", "replace").encode("utf-8")
        repairs.append("bytes that are not UTF-8 (replaced)")
    if repairs:
        try:
            return _DECODER.decode(raw), raw, repairs
        except msgspec.DecodeError:
            pass
    # Raw control characters: outside a string they are JSON's whitespace, a space as good as any;
    # inside one they are not allowed, and become spaces. A byte below 0x20 is never part of a
    # longer UTF-8 character. So if the spaced text decodes, names held control characters.
    spaced = raw.translate(_SPACES)
    if spaced == raw:
        raise error
    doc = _DECODER.decode(spaced)
    return doc, spaced, [*repairs, "raw control characters inside names (read as spaces)"]


@gc_paused()
def decode_many(paths: "Sequence[str | Path]") -> Decoded:
    """Several traces of one process, recorded one after the other (the spooled samples of a live
    run: nscharacterize/profiler/spool.py), as one trace. Each file numbers its correlations and
    External ids afresh, so each file's are moved into a range of their own; the recording
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
            meta = _metadata(doc)
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
    return _columns(events, meta)


# JSON files that profilers write beside a Kineto trace, told apart by their top-level keys.
_OTHER_FORMATS = (
    (("nodes", "schema"), "a PyTorch execution trace (ExecutionTraceObserver: the graph of ops, without timings)"),
    (("rocprofiler-sdk-tool",), "rocprofiler-sdk's JSON output (rocprofv3)"),
    (("workload_graph",), "a Chakra execution trace converted to JSON (a graph of ops, not their timeline)"),
)


def _other_format(raw: bytes) -> tuple[str | None, bool]:
    """What a JSON object that is not a Chrome trace is, where its top-level keys say (None
    otherwise), and whether it is recognisably no trace (``NotATrace``): a format of
    _OTHER_FORMATS, or an object without ``traceEvents``."""
    try:
        keys = msgspec.json.decode(raw, type=dict[str, msgspec.Raw]).keys()
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None, False
    known = next((what for needed, what in _OTHER_FORMATS if all(k in keys for k in needed)), None)
    if known is None and "traceEvents" not in keys:   # a config file, another tool's JSON: say what it holds
        shown = ", ".join(sorted(keys)[:6]) + (", ..." if len(keys) > 6 else "")
        return f"a JSON object without a traceEvents array (its keys: {shown or 'none'})", True
    return known, known is not None


def _metadata(doc: _Document) -> dict:
    return {k: getattr(doc, k) for k in doc.__struct_fields__ if k != "traceEvents" and getattr(doc, k) is not None}


def _columns(events: list[_Event], metadata: dict) -> Decoded:
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
    unread = {str(c): n for c, n in unread.items() if str(c).lower() not in _NOT_ACTIVITY}
    return Decoded(_host_columns(host), _device_columns(device), _python_columns(python), _memory_columns(memory),
                   metadata, unread)


def _host_columns(events: list[_Event]) -> dict[str, Any]:
    # Column by column with comprehensions: the largest traces hold 100k+ host events.
    args = [e.args or _NO_ARGS for e in events]
    kind_of = {c: HOST_CATEGORIES.get(c.lower(), "op") for c in {e.cat for e in events}}   # text: see _columns
    return {"name": _coded(e.name if type(e.name) is str else str(e.name) for e in events),
            "kind": _coded(kind_of[e.cat] for e in events),
            "tid": _tid_column([e.tid for e in events]),
            "ts": _float_column([e.ts for e in events]), "dur": _float_column([e.dur for e in events]),
            "external_id": _int_column([a.external_id for a in args], -1),
            "correlation": _int_column([a.correlation for a in args], -1),
            "input_dims": _coded_raw([a.input_dims for a in args], _dims),
            "input_types": _coded_raw([a.input_types for a in args], _types),
            "concrete_inputs": _coded_raw([a.concrete_inputs for a in args], _listed)}


def _device_columns(events: list[_Event]) -> dict[str, Any]:
    args = [e.args or _NO_ARGS for e in events]
    return {"name": _coded(e.name if type(e.name) is str else str(e.name) for e in events),
            "kind": _coded(DEVICE_CATEGORIES.get(str(e.cat).lower(), "kernel") for e in events),
            "ts": _float_column([e.ts for e in events]), "dur": _float_column([e.dur for e in events]),
            "stream": _int_column([a.stream for a in args], -1),
            "device": _int_column([a.device for a in args], 0),
            "correlation": _int_column([a.correlation for a in args], -1),
            "external_id": _int_column([a.external_id for a in args], -1)}


def _python_columns(events: list[_Event]) -> dict[str, Any]:
    args = [e.args or _NO_ARGS for e in events]
    return {"name": _coded(str(e.name) for e in events), "tid": _tid_column([e.tid for e in events]),
            "ts": _float_column([e.ts for e in events]), "dur": _float_column([e.dur for e in events]),
            "python_id": _int_column([a.python_id for a in args], -1),
            "python_parent_id": _int_column([a.python_parent_id for a in args], -1)}


def _memory_columns(events: list[_Event]) -> dict[str, Any]:
    args = [e.args or _NO_ARGS for e in events]
    return {"ts": _float_column([e.ts for e in events]), "bytes": _float_column([a.bytes for a in args]),
            "total_allocated": _float_column([a.total_allocated for a in args], missing=math.nan),
            "device_type": _int_column([a.device_type for a in args], 0),
            "addr": _int_column([a.addr for a in args], -1)}


# ---- column builders: values as other tools write them, made safe ----------------------------
def _coded(values) -> Coded:
    """Texts (or any hashable values) as codes into their distinct values, in first-seen order."""
    index: dict = {}
    codes = array("i", [index.setdefault(v, len(index)) for v in values])
    return Coded(codes, list(index))


def _coded_raw(values: list[msgspec.Raw], check: Callable[[Any], Any] | None) -> Coded:
    """Raw JSON values decoded (and, with ``check``, checked) once per distinct text."""
    index: dict[bytes, int] = {}
    codes = array("i", [index.setdefault(bytes(raw), len(index)) for raw in values])
    decoded = []
    for key in index:
        try:
            value = None if key == b"null" else msgspec.json.decode(key)
        except msgspec.ValidationError:   # an integer beyond 64 bits, valid JSON but no tensor size: unread
            value = None
        decoded.append(check(value) if check is not None and value is not None else value)
    return Coded(codes, decoded)


_INT64 = 2**63


def _tid(value) -> int:
    try:
        number = int(value)
        if -_INT64 <= number < _INT64:
            return number
    except (TypeError, ValueError, OverflowError):
        pass
    return hash(str(value)) & 0x7FFFFFFF  # text, a list, a number past int64: a name, numbered


def _tid_column(values: list) -> array:
    """int64 thread ids; a named thread (text) gets a number from its name, the same within one read."""
    return array("q", [v if type(v) is int and -_INT64 <= v < _INT64 else _tid(v) for v in values])


def _int_column(values: list, default: int) -> array:
    """int64 column; values that are not integers (missing, text, past int64) become ``default``."""
    return array("q", [v if type(v) is int and -_INT64 <= v < _INT64 else default if v is None else _int(v, default)
                       for v in values])


def _int(value, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return number if -_INT64 <= number < _INT64 else default


def _float_column(values: list, missing: float = 0.0) -> array:
    """float64 column; missing values (None) become ``missing``, what is not a finite number 0 (a
    number written as text is read)."""
    try:
        return array("d", values)   # every value a number, the common case (JSON itself has no NaN)
    except (TypeError, OverflowError):   # missing values, text, lists, an integer past float's range
        return array("d", [missing if v is None else _float(v) for v in values])


def _float(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # text, a list, a 400-digit integer
        return 0.0
    return number if math.isfinite(number) else 0.0


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


def _listed(value) -> list | None:
    """Concrete Inputs as torch writes them, a list (one entry per argument), else None."""
    return value if isinstance(value, list) else None


def _types(value) -> list | None:
    """Input type per argument as text (None where torch wrote none), else None."""
    if not isinstance(value, list):
        return None
    return [t if t is None or type(t) is str else str(t)[:100] for t in value]
