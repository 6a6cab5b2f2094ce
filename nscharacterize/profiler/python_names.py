"""How a Python function is named, the one form the python rules (taxonomy/rules/python.yaml) read.

``module:function`` for Python code, ``builtin:owner.name`` for C functions. Two sources write
their own forms: cProfile (the cProfile components, nscharacterize/profiler/cprofile_backend.py)
and torch.profiler's Python stack events (traces recorded ``with_stack``,
nscharacterize/profiler/trace_events.py). Both are read here into that one form, so that a
function gets the same Fig. 7 category whichever measured it. Light: no torch, no pandas.
"""
from __future__ import annotations

import builtins
import functools
import os
import re

# A C function as cProfile writes it: "<built-in method builtins.len>", "<method 'append' of
# 'list' objects>".
_PROFILED_C = re.compile(r"<(?:built-in method|method) '?(?P<name>[\w.]+)'?(?: of '?(?P<owner>[\w.]+)'? objects)?>")
# ... and as torch writes it: "<built-in function len>", "<built-in method encode of str object
# at 0x7f...>", "<method 'append' of 'list' objects>".
_TRACED_C = re.compile(r"<built-in (?:method|function) (?P<name>[\w.]+)(?: of (?P<owner>[\w.]+) object at 0x[0-9a-fA-F]+)?>"
                       r"|<method '(?P<method>[\w.]+)' of '(?P<type>[\w.]+)' objects>")
# torch's name of Python code: "torch/nn/modules/module.py(1787): _call_impl" (the path from its
# sys.path entry), "<frozen os>(674): __getitem__".
_TRACED_CODE = re.compile(r"(?P<path>.+)\((?P<line>\d+)\): (?P<func>.+)")
_BUILTINS = frozenset(vars(builtins))
_abspath = functools.lru_cache(maxsize=8192)(os.path.abspath)  # the same code files, every capture


def function_name(filename: str, func: str, modules: dict[str, str]) -> str:
    """A function cProfile measured (its pstats key's file name and function), by ``modules``:
    file path -> module name of the loaded modules."""
    if filename == "~":
        m = _PROFILED_C.fullmatch(func)
        if m:
            name, owner = m["name"], m["owner"]
            return f"builtin:{owner}.{name}" if owner else f"builtin:{name}"
        # A C method cProfile could not look up on its type is its repr, "<built-in method X of Y
        # object at 0x...>": read as torch's form, without the address that would make each
        # object's method a function of its own.
        named = traced_name(func)
        return named if named != func else f"builtin:{func}"
    module = modules.get(_abspath(filename)) or os.path.splitext(os.path.basename(filename))[0]
    return f"{module}:{func}"


def traced_name(raw: str) -> str:
    """A torch.profiler Python stack event's name; any other name as it is (an ``nn.Module:
    Linear_0`` range). A path under sys.path is its module (a package's ``__init__`` the package,
    as cProfile's module names have it), one outside it the file's name."""
    m = _TRACED_CODE.fullmatch(raw)
    if m:
        path = m["path"]
        if path.startswith("<frozen ") and path.endswith(">"):    # a frozen standard module
            module = path[len("<frozen "):-1]
        elif path.startswith(("/", "\\")) or path[1:3] in (":\\", ":/"):   # outside sys.path: the file's name
            module = re.split(r"[\\/]", path)[-1].removesuffix(".py")
        else:
            module = path.removesuffix(".py").replace("\\", "/").replace("/", ".").removesuffix(".__init__")
        return f"{module}:{m['func']}"
    m = _TRACED_C.fullmatch(raw)
    if m:
        name, owner = (m["name"], m["owner"]) if m["name"] else (m["method"], m["type"])
        if owner is None:   # "<built-in function len>" says no module: Python's builtins, or an extension's
            return f"builtin:builtins.{name}" if name in _BUILTINS else f"builtin:{name}"
        return f"builtin:{owner}.{name}"
    return raw
