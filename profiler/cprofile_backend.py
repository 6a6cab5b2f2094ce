"""cProfile backend: function-level self times of pure-Python symbolic code."""
from __future__ import annotations

import cProfile
import os
import pstats
import re
import sys
import time
from typing import Any, Callable

from .torch_backend import Capture

_BUILTIN = re.compile(r"<(?:built-in method|method) '?([\w.]+)'?(?: of '?([\w.]+)'? objects)?>")


def capture(fn: Callable[[Any], Any], x: Any, device: str) -> Capture:
    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    try:
        out = fn(x)
    finally:
        prof.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(prof).stats  # (file, line, func) -> (cc, nc, tt, ct, callers)
    modules = _module_names()
    rows = []
    for (filename, _line, func), (_cc, ncalls, tottime, _ct, _callers) in stats.items():
        name = function_name(filename, func, modules)
        if name == "builtin:_lsprof.Profiler.disable":
            continue
        rows.append({"source": "python", "device": "cpu", "name": name, "ancestors": "", "children": "",
                     "calls": int(ncalls), "self_cpu_us": tottime * 1e6, "self_device_us": 0.0,
                     "input_shapes": "", "input_dtypes": "", "flops": 0.0, "bytes": 0.0})
    return Capture(out, rows, wall, float("nan"))  # cProfile sees no tensor allocations


def function_name(filename: str, func: str, modules: dict[str, str]) -> str:
    """``module:function`` for Python code, ``builtin:owner.name`` for C functions."""
    if filename == "~":
        m = _BUILTIN.match(func)
        if m:
            name, owner = m.group(1), m.group(2)
            return f"builtin:{owner}.{name}" if owner else f"builtin:{name}"
        return f"builtin:{func}"
    module = modules.get(os.path.abspath(filename)) or os.path.splitext(os.path.basename(filename))[0]
    return f"{module}:{func}"


def _module_names() -> dict[str, str]:
    out = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path:
            out[os.path.abspath(path)] = name
    return out
