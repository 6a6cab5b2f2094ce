"""torch.profiler backend: runs one component call and returns its op events and wall time."""
from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch.profiler import ProfilerActivity, profile

from .events import RUNTIME_API
from .timing import synchronize

# Bytes per element of the dtype names torch.profiler records (lower-cased); the one table.
DTYPE_BYTES = {"float": 4, "double": 8, "half": 2, "c10::half": 2, "c10::bfloat16": 2, "bfloat16": 2,
                "long int": 8, "int": 4, "short int": 2, "signed char": 1, "unsigned char": 1, "bool": 1,
                "c10::complex<float>": 8, "c10::complex<double>": 16, "c10::complex<c10::half>": 4,
                "c10::float8_e4m3fn": 1, "c10::float8_e5m2": 1, "c10::float8_e4m3fnuz": 1,
                "c10::float8_e5m2fnuz": 1, "unsigned short": 2, "unsigned int": 4, "unsigned long": 8}

# Concrete (non-tensor) arguments kept per op: lists (sizes, strides, paddings, kernel sizes, dims,
# output sizes) and booleans for every op; plain numbers only for the ops below, whose amount of
# work depends on an integer argument (the dim of index_select or a reduction, RoI output sizes,
# k of topk, classes of one_hot). Numbers elsewhere (a select index, a fill value) vary from call
# to call and would split a symbolic loop's events into one row per call.
_NUMBERS_KEPT = re.compile(r"aten::(index_select|_?embedding_bag|sum|mean|nansum|prod|max|min|amax|amin|argmax|argmin|"
                           r"all|any|std|var|logsumexp|norm|linalg_vector_norm|topk|kthvalue|sort|argsort|one_hot|"
                           r"cumsum|cumprod|softmax|_softmax|log_softmax|_log_softmax|arange|count_nonzero|"
                           r"l1_loss|mse_loss|smooth_l1_loss|huber_loss)|"
                           r"torchvision::(roi_align|roi_pool|ps_roi_align|ps_roi_pool)")


@dataclass
class TorchSettings:
    record_shapes: bool = True
    with_flops: bool = True
    memory: bool = True
    chrome_trace: str | None = None   # a path: export the Chrome trace of this call there


@dataclass
class Capture:
    output: Any
    rows: list[dict]
    wall_s: float          # wall time of the call inside the profiler (synchronised)
    peak_mem_bytes: float  # peak of memory allocated during the call (NaN when not recorded)


def capture(fn: Callable[[Any], Any], x: Any, device: str, settings: TorchSettings) -> Capture:
    activities = [ProfilerActivity.CPU]
    if device == "cuda":
        activities.append(ProfilerActivity.CUDA)
    prof = profile(activities=activities, record_shapes=settings.record_shapes,
                   with_flops=settings.with_flops, profile_memory=settings.memory)
    with _quiet_native_stderr():
        prof.start()
    try:
        synchronize(device)
        start = time.perf_counter()
        out = fn(x)
        synchronize(device)
        wall = time.perf_counter() - start
    finally:
        with _quiet_native_stderr():
            prof.stop()
    if settings.chrome_trace:
        prof.export_chrome_trace(settings.chrome_trace)
    host = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CPU]
    events = [e for e in host if not e.name.startswith(("[memory]", "ProfilerStep"))]
    return Capture(out, _rows(events, device), wall, _peak_memory(host, device) if settings.memory else float("nan"))


@contextlib.contextmanager
def _quiet_native_stderr():
    """Kineto logs two lines to the C-level stderr on every start and stop; one profile per
    component and sample would bury the progress bar. Only start/stop are silenced, never the
    profiled code."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _rows(events, device: str) -> list[dict]:
    rows = []
    for evt in events:
        ancestors = _ancestors(evt)
        children = sorted({c.name for c in evt.cpu_children if _is_op(c.name)})
        # Structured shapes also hold the shapes of tensor-list arguments (cat, stack, index).
        structured = getattr(evt, "structured_input_shapes", None) or evt.input_shapes
        shapes = str(structured) if structured else ""
        # One field per argument, empty for None, so dtypes line up with shapes by position.
        dtypes = ",".join(str(d or "") for d in (evt.input_dtypes or [])) if evt.input_dtypes else ""
        rows.append({
            "source": _source(evt),
            "device": device, "name": evt.name, "ancestors": ">".join(ancestors),
            "children": "|".join(children), "calls": 1,
            "self_cpu_us": float(evt.self_cpu_time_total),
            "self_device_us": float(evt.self_device_time_total) if device == "cuda" else 0.0,
            "input_shapes": shapes, "input_dtypes": dtypes,
            "concrete_inputs": _concrete(evt.name, getattr(evt, "concrete_inputs", None)),
            "flops": float(evt.flops or 0),
            "bytes": _input_bytes(evt.input_shapes, evt.input_dtypes),
        })
        for kernel in getattr(evt, "kernels", None) or []:
            rows.append({"source": "kernel", "device": device, "name": kernel.name,
                         "ancestors": ">".join(ancestors + [evt.name]), "children": "", "calls": 1,
                         "self_cpu_us": 0.0, "self_device_us": float(kernel.duration),
                         "input_shapes": "", "input_dtypes": "", "concrete_inputs": "",
                         "flops": 0.0, "bytes": 0.0})
    return rows


def concrete_from_trace(name: str, values: list) -> str:
    """The ``concrete_inputs`` column from a Chrome trace's "Concrete Inputs" strings ("", "-2",
    "False", "[2, 2]", "0.25"), for importers of torch.profiler traces: same rule as a live run."""
    def parse(text):
        if not isinstance(text, str):
            return text
        t = text.strip()
        if t in ("True", "False"):
            return t == "True"
        try:
            return json.loads(t)
        except ValueError:
            return None
    return _concrete(name, [parse(v) for v in values or []])


def _concrete(name: str, values) -> str:
    """The op's non-tensor arguments that size its work, as JSON (null where not kept)."""
    if not values:
        return ""
    numbers = bool(_NUMBERS_KEPT.fullmatch(name))
    kept = [v if isinstance(v, (list, tuple, bool)) or (numbers and isinstance(v, (int, float))) else None
            for v in values]
    if all(v is None for v in kept):
        return ""
    try:
        return json.dumps(kept)
    except (TypeError, ValueError):
        return ""


def _is_op(name: str) -> bool:
    """Dispatcher ops have a name space; CUDA runtime calls are host-side ops too."""
    return "::" in name or bool(RUNTIME_API.fullmatch(name))


def _source(evt) -> str:
    if evt.is_user_annotation or not _is_op(evt.name):
        return "annotation"
    return "runtime" if RUNTIME_API.fullmatch(evt.name) else "op"


def _ancestors(evt) -> list[str]:
    chain = []
    parent = evt.cpu_parent
    while parent is not None:
        if _is_op(parent.name):
            chain.append(parent.name)
        parent = parent.cpu_parent
    return chain[::-1]


def _input_bytes(shapes, dtypes) -> float:
    total = 0.0
    for shape, dtype in zip(shapes or [], dtypes or []):
        if isinstance(shape, list) and shape and all(isinstance(d, int) for d in shape):
            n = 1
            for d in shape:
                n *= d
            total += n * DTYPE_BYTES.get(str(dtype).lower(), 4)
    return total


def _peak_memory(events, device: str) -> float:
    """Peak of live allocations over the call, at op granularity.

    Replays, in start order, each op's own net allocation and the free-standing ``[memory]``
    records (mostly frees of tensors Python dropped between ops), so memory released during the
    call is subtracted and the result is a peak, not a total.
    """
    own = "self_device_memory_usage" if device == "cuda" else "self_cpu_memory_usage"
    loose = "device_memory_usage" if device == "cuda" else "cpu_memory_usage"
    live = peak = 0.0
    for evt in sorted(events, key=lambda e: e.time_range.start):
        field = loose if evt.name.startswith("[memory]") else own
        live += float(getattr(evt, field, 0) or 0)
        peak = max(peak, live)
    return peak
