"""cProfile backend: function-level self times of pure-Python symbolic code.

It must also work when the tool itself runs under an outer profiler (``python -m cProfile``,
``profile``, a debugger's tracer, py-spy), so that the tool can be profiled:

* a tracer (``sys.settrace``: debuggers, coverage) and sampling profilers (py-spy) do not share
  cProfile's hook: nothing to do;
* Python 3.10 and 3.11 have one ``sys.setprofile`` slot. An outer cProfile or ``profile`` in it is
  put back after each capture (so it goes on seeing the rest of the run; it sees each captured
  component as one call of ``Profiler.enable``). An outer profiler that cannot be put back is
  left alone, and the component is not measured by function;
* Python 3.12+ gives cProfile ``sys.monitoring``'s one profiler tool id, so under an outer
  cProfile a second one cannot start: the component is not measured by function.

Where a component is not measured by function its call still runs, timed, with no rows: its whole
time counts as Other, outside any op, and :func:`conflict` says why in one line (the run puts
that line in the manifest, run.log and on the terminal).
"""
from __future__ import annotations

import _lsprof
import cProfile
import os
import pstats
import sys
import time
from typing import Any, Callable

from .python_names import function_name
from .torch_backend import Capture


def conflict() -> str | None:
    """Why cProfile components cannot be measured by function in this process now, in one line;
    None when they can."""
    if sys.version_info >= (3, 12):
        holder = sys.monitoring.get_tool(sys.monitoring.PROFILER_ID)
        if holder is not None:
            return (f"another profiler ({holder}) holds sys.monitoring's profiler slot, and Python "
                    f"{sys.version_info.major}.{sys.version_info.minor} allows one cProfile at a time")
        return None
    outer = sys.getprofile()
    if outer is None or isinstance(outer, _lsprof.Profiler) or callable(outer):
        return None  # free, or an outer profiler that _restore puts back
    return (f"an outer profiler ({type(outer).__name__}) holds sys.setprofile and could not be put back "
            "after a capture")


def capture(fn: Callable[[Any], Any], x: Any, device: str) -> Capture:
    if conflict() is not None:
        start = time.perf_counter()
        out = fn(x)
        return Capture(out, [], time.perf_counter() - start, float("nan"))
    outer = sys.getprofile() if sys.version_info < (3, 12) else None
    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    try:
        out = fn(x)
    finally:
        prof.disable()
        wall = time.perf_counter() - start
        try:
            stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]  # not in typeshed; (file, line, func) -> (cc, nc, tt, ct, callers)
        finally:  # after Stats: it calls disable() again, which would empty the slot once more
            if outer is not None:
                _restore(outer)
    modules = _module_names()
    rows = []
    for (filename, _line, func), (_cc, ncalls, tottime, _ct, callers) in stats.items():
        name = function_name(filename, func, modules)
        if name == "builtin:_lsprof.Profiler.disable":
            continue
        # One row per (function, direct caller), with the caller in ``ancestors`` (cProfile keeps
        # no deeper stack): the compensation charges each call's cost to the caller it lands in.
        edges = [(function_name(c[0], c[2], modules), e[0], e[2]) for c, e in (callers or {}).items()
                 if isinstance(e, tuple)]
        if not edges or sum(n for _c, n, _t in edges) < ncalls:  # called from outside the profiled call
            edges.append(("", ncalls - sum(n for _c, n, _t in edges), tottime - sum(t for _c, _n, t in edges)))
        for caller, calls, self_s in edges:
            rows.append({"source": "python", "device": "cpu", "name": name, "ancestors": caller, "children": "",
                         "calls": int(calls), "self_cpu_us": max(self_s, 0.0) * 1e6, "self_device_us": 0.0,
                         "input_shapes": "", "input_dtypes": "", "flops": 0.0, "bytes": 0.0})
    return Capture(out, rows, wall, float("nan"))  # cProfile sees no tensor allocations


def _restore(outer) -> None:
    """Puts the outer profiler of Python < 3.12 back into the sys.setprofile slot that ours took."""
    if isinstance(outer, _lsprof.Profiler):
        outer.enable()   # keeps its own subcalls/builtins settings
    else:
        sys.setprofile(outer)


_modules: dict = {"count": -1, "paths": {}}


def _module_names() -> dict[str, str]:
    """File path -> module name of every loaded module. Rebuilt only when the number of loaded
    modules changed: walking sys.modules (thousands, with torch) cost tens of milliseconds per
    captured call, more than a small symbolic component takes."""
    if len(sys.modules) != _modules["count"]:
        out = {}
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if path:
                out[os.path.abspath(path)] = name
        _modules.update(count=len(sys.modules), paths=out)
    return _modules["paths"]
