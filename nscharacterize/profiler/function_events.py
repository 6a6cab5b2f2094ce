"""Event rows from ``prof.events()`` (torch's FunctionEvent objects): the original capture path.

Kept as the reference the trace path (nscharacterize/profiler/trace_events.py) is tested against, as the
fallback when a profile cannot be exported as a trace, and as the CPU path of torch 2.3, where the
events exist once the profile stops (``torch_compat.events_are_lazy``). Ops nest by their time
ranges, by the walk the trace path uses (``_tree``). It has no timestamps per row, so the CUDA
timeline columns stay 0 here.
"""
from __future__ import annotations

import pandas as pd
import torch

from .chrome_trace import is_op_name, nest
from .events import INDUCTOR_CPU_KERNEL, RUNTIME_API, concrete_inputs
from .torch_compat import concrete_values, dtypes_of, input_shapes, is_user_annotation, self_device_us
from .trace_events import input_bytes


def rows(prof, device: str) -> list[dict]:
    host = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CPU]
    events = [e for e in host if not e.name.startswith(("[memory]", "ProfilerStep"))]
    tree = _tree(events)
    out = []
    input_dtypes = dtypes_of(prof)
    for i, evt in enumerate(events):
        if i not in tree:
            # An op re-dispatching to itself, merged into its same-named parent by nest. torch has
            # merged those already (prof.events(), its kernels moved to the parent); nest merges
            # more only where whole microseconds make an op look so (torch 2.3). Such an op's
            # kernels are not rows: only a 2.3 CUDA profile whose trace cannot be exported
            # (torch_backend.capture's fallback) brings kernels this way.
            continue
        ancestors, children, self_us = tree[i]
        dtypes = input_dtypes(evt)
        shapes = input_shapes(evt)   # tensor-list arguments nested, as the trace writes them
        out.append({
            "source": _source(evt), "device": device, "name": evt.name, "ancestors": ancestors,
            "children": children, "calls": 1,
            "self_cpu_us": self_us,
            "self_device_us": self_device_us(evt) if device == "cuda" else 0.0,
            "input_shapes": str(shapes) if shapes else "",
            # one field per argument, empty for None, so dtypes line up with shapes by position
            "input_dtypes": ",".join(str(d or "") for d in dtypes),
            "concrete_inputs": concrete_inputs(evt.name, concrete_values(evt)),
            "flops": float(evt.flops or 0), "bytes": input_bytes(shapes, dtypes),
        })
        for kernel in getattr(evt, "kernels", None) or []:
            out.append({"source": "kernel", "device": device, "name": kernel.name,
                        "ancestors": f"{ancestors}>{evt.name}" if ancestors else evt.name, "children": "", "calls": 1,
                        "self_cpu_us": 0.0, "self_device_us": float(kernel.duration),
                        "input_shapes": "", "input_dtypes": "", "concrete_inputs": "",
                        "flops": 0.0, "bytes": 0.0})
    return out


def peak_memory(prof, device: str) -> float:
    """Peak of live allocations over the call, at op granularity (replay of own allocations and
    free-standing ``[memory]`` records in start order)."""
    host = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CPU]
    own = "self_device_memory_usage" if device == "cuda" else "self_cpu_memory_usage"
    loose = "device_memory_usage" if device == "cuda" else "cpu_memory_usage"
    live = peak = 0.0
    for evt in sorted(host, key=lambda e: e.time_range.start):
        field = loose if evt.name.startswith("[memory]") else own
        live += float(getattr(evt, field, 0) or 0)
        peak = max(peak, live)
    return peak


def _source(evt) -> str:
    if INDUCTOR_CPU_KERNEL.fullmatch(evt.name):
        return "op"
    if is_user_annotation(evt) or not is_op_name(evt.name):
        return "annotation"
    return "runtime" if RUNTIME_API.fullmatch(evt.name) else "op"


def _tree(events: list) -> dict[int, tuple[str, str, float]]:
    """(ancestors, children, self time in us) of each event, by its position in ``events``, from
    their time ranges by the walk the trace path uses (``chrome_trace.nest``), not from torch's
    own tree (``cpu_parent``, ``self_cpu_time_total``). On torch 2.3 the times are whole
    microseconds, and torch drops a child that seems to end a microsecond after its parent
    (``aten::addmm`` out of ``aten::_sparse_addmm``, one call in six): the child then counts as
    its grandparent's child beside the parent that holds it, and the grandparent's self time goes
    negative. ``nest`` allows that rounding, as it does for a 2.3 trace."""
    if not events:
        return {}
    starts = [float(e.time_range.start) for e in events]
    ends = [float(e.time_range.end) for e in events]
    frame = pd.DataFrame({"name": [e.name for e in events], "ts": starts, "end": ends,
                          "dur": [b - a for a, b in zip(starts, ends)], "tid": [int(e.thread) for e in events],
                          "position": range(len(events))})
    tree = nest(frame)
    return {int(p): (a, c, float(s)) for p, a, c, s in zip(tree["position"], tree["ancestors"], tree["children"],
                                                             tree["self_us"])}
