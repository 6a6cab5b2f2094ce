"""Event rows from ``prof.events()`` (torch's FunctionEvent objects): the original capture path.

Kept as the reference the trace path (nscharacterize/profiler/trace_events.py) is tested against, and as the
fallback when a profile cannot be exported as a trace. It has no timestamps per row, so the CUDA
timeline columns stay 0 here.
"""
from __future__ import annotations

import torch

from .chrome_trace import is_op_name
from .events import INDUCTOR_CPU_KERNEL, RUNTIME_API, concrete_inputs
from .torch_compat import concrete_values, dtypes_of, input_shapes, is_user_annotation, self_device_us
from .trace_events import input_bytes


def rows(prof, device: str) -> list[dict]:
    host = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CPU]
    events = [e for e in host if not e.name.startswith(("[memory]", "ProfilerStep"))]
    out = []
    input_dtypes = dtypes_of(prof)
    for evt in events:
        ancestors = _ancestors(evt)
        children = sorted({c.name for c in evt.cpu_children if is_op_name(c.name)})
        dtypes = input_dtypes(evt)
        shapes = input_shapes(evt)   # tensor-list arguments nested, as the trace writes them
        out.append({
            "source": _source(evt), "device": device, "name": evt.name, "ancestors": ">".join(ancestors),
            "children": "|".join(children), "calls": 1,
            "self_cpu_us": float(evt.self_cpu_time_total),
            "self_device_us": self_device_us(evt) if device == "cuda" else 0.0,
            "input_shapes": str(shapes) if shapes else "",
            # one field per argument, empty for None, so dtypes line up with shapes by position
            "input_dtypes": ",".join(str(d or "") for d in dtypes),
            "concrete_inputs": concrete_inputs(evt.name, concrete_values(evt)),
            "flops": float(evt.flops or 0), "bytes": input_bytes(shapes, dtypes),
        })
        for kernel in getattr(evt, "kernels", None) or []:
            out.append({"source": "kernel", "device": device, "name": kernel.name,
                        "ancestors": ">".join(ancestors + [evt.name]), "children": "", "calls": 1,
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


def _ancestors(evt) -> list[str]:
    chain = []
    parent = evt.cpu_parent
    while parent is not None:
        if is_op_name(parent.name):
            chain.append(parent.name)
        parent = parent.cpu_parent
    return chain[::-1]
