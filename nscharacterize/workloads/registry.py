"""Built-in workloads by name, and loading of user workloads from ``package.module:factory``.

Built-ins are listed as import paths so that ``nscharacterize list`` and config validation only
import the workloads they are asked about (torchvision and OpenNMT-py are slow to import).

Trust model (docs/guide/own-models.md): a config is code. Naming ``package.module:factory``
imports that module, which runs whatever it holds; nothing here is a sandbox. What is checked is
the *call*: before a factory is called, it must be a plain Python function, written outside the
standard library (and outside installed packages unless it is annotated to return a ``Workload``),
and its signature must accept the config's params. That keeps a copied or mistyped reference to
a general-purpose callable (``os:system``, ``subprocess:run``, ``shutil:rmtree``, a class) from
being called with the config's params before its return value could be checked.
"""
from __future__ import annotations

import importlib
import inspect
import os
import random
import sys
import sysconfig
import traceback
import types
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from .base import Workload, WorkloadError, module_workload


MAX_INT_PARAM = 1_000_000  # a built-in integer parameter without a bound of its own stays under this


class Params(BaseModel):
    """Base of every built-in workload's parameters: unknown keys are errors, ``true`` and ``"2"``
    are not numbers, and no integer parameter (a size, a count) is above ``MAX_INT_PARAM`` unless its field
    declares its own ``le``: a typo of a few zeros is an error, not an out-of-memory death."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and _is_number(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"must be a number, not {str(value).lower()}; write a number")
        if isinstance(value, str) and _is_number(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"must be a number, not text {value!r}; write the number without quotes")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _bounded(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields[info.field_name]
        if (isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT_PARAM
                and not any(hasattr(m, "le") or hasattr(m, "lt") for m in field.metadata)):
            raise ValueError(f"{value} is above {MAX_INT_PARAM:,}; use a smaller value")
        return value


def _is_number(annotation: Any) -> bool:
    import typing

    options = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else (annotation,)
    return any(a in (int, float) for a in options) and bool not in options


@dataclass(frozen=True)
class WorkloadSpec:
    """A built-in workload: its parameter model and the factory that builds it from them."""

    name: str
    summary: str
    params: type[Params]
    factory: Callable[..., Workload]  # factory(params, seed=...) -> Workload
    smoke: dict = field(default_factory=dict)  # tiny params for tests and the CI suite

    def build(self, params: dict | None, seed: int) -> Workload:
        return self.factory(self.params(**(params or {})), seed=seed)


# name -> "module:attribute" of its WorkloadSpec. One line per built-in workload.
BUILTIN: dict[str, str] = {
    "mlp-demo": "nscharacterize.workloads.demo:MLP_DEMO",
    "nscl": "nscharacterize.workloads.nscl:NSCL",
    "nlm-sort": "nscharacterize.workloads.nlm:SORT",
    "nlm-path": "nscharacterize.workloads.nlm:PATH",
    "nlm-blocksworld": "nscharacterize.workloads.nlm:BLOCKSWORLD",
    "nsdr": "nscharacterize.workloads.nsdr:NSDR",
    "propnet": "nscharacterize.workloads.propnet:PROPNET",
    "dolphin-sum": "nscharacterize.workloads.dolphin:SUM",
    "dolphin-hwf": "nscharacterize.workloads.dolphin:HWF",
    "nmn": "nscharacterize.workloads.nmn:NMN",
    "nvsa": "nscharacterize.workloads.nvsa:NVSA",
    "ltn": "nscharacterize.workloads.ltn:LTN",
    "lnn": "nscharacterize.workloads.lnn:LNN",
    "prae": "nscharacterize.workloads.prae:PRAE",
}


def builtin_names() -> list[str]:
    return sorted(BUILTIN)


def get_spec(name: str) -> WorkloadSpec:
    if name not in BUILTIN:
        raise WorkloadError(f"unknown workload {name!r}", f"use a built-in ({', '.join(builtin_names())}) or 'package.module:factory'", key="workload")
    return _import_attr(BUILTIN[name], what="built-in workload")


def is_user_ref(ref: str) -> bool:
    return ":" in ref


def build(ref: str, params: dict | None, seed: int) -> Workload:
    """Builds a workload from a built-in name or a user ``package.module:factory`` reference."""
    seed_everything(seed)
    if not is_user_ref(ref):
        return get_spec(ref).build(params, seed)
    factory = resolve_factory(ref)
    kwargs = check_call(factory, ref, params, seed)
    made = factory(**kwargs)  # its own exceptions are the workload's failure (logged with traceback)
    return as_workload(made, name=ref.split(":")[-1])


def check_call(factory: Callable[..., Any], ref: str, params: dict | None, seed: int = 0) -> dict:
    """The keyword arguments the factory will get; a WorkloadError if its signature refuses them."""
    kwargs = dict(params or {})
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        raise WorkloadError(f"{ref!r} has no inspectable signature", "point at a Python function", key="workload") from None
    if "seed" in signature.parameters:
        kwargs.setdefault("seed", seed)
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        takes = ", ".join(n for n, p in signature.parameters.items()
                          if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)) or "nothing"
        raise WorkloadError(f"{ref} cannot take these params ({exc})", f"its parameters: {takes}", key="params") from None
    return _typed(factory, signature, kwargs)


def _typed(factory: Callable[..., Any], signature: inspect.Signature, kwargs: dict) -> dict:
    """The params checked against the factory's annotations, as the built-ins' are against their
    models: ``batch: "2"`` for ``batch: int`` is a one-line error naming ``params.batch`` before
    anything runs, not a traceback in run.log. Converted as pydantic converts (a list for a
    ``tuple[int, int]``, text for a ``Path``); an annotation pydantic cannot check (a class of the
    user's own) or cannot resolve is left unchecked."""
    import typing

    from pydantic import TypeAdapter, ValidationError

    try:
        hints = typing.get_type_hints(factory)
    except Exception:  # a forward reference the factory's module cannot resolve: check what resolves
        hints = {k: v for k, v in getattr(factory, "__annotations__", {}).items() if not isinstance(v, str)}
    out = dict(kwargs)
    for name, value in kwargs.items():
        parameter = signature.parameters.get(name)
        if parameter is None or parameter.kind is parameter.VAR_KEYWORD or name not in hints:
            continue
        annotation = hints[name]
        if _is_number(annotation) and (isinstance(value, bool) or (isinstance(value, str) and not _takes_text(annotation))):
            shown = str(value).lower() if isinstance(value, bool) else repr(value)
            raise WorkloadError(f"must be a number ({_annotation_name(annotation)}), not "
                                f"{'true/false' if isinstance(value, bool) else 'text'} {shown}",
                                "write the number without quotes" if isinstance(value, str) else "write a number",
                                key=f"params.{name}")
        try:
            adapter = TypeAdapter(annotation)
        except Exception:  # not a type pydantic knows how to check
            continue
        try:
            out[name] = adapter.validate_python(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = "".join(f"[{p}]" for p in err["loc"])
            raise WorkloadError(f"{err['msg']} (got {value!r}; the factory takes {_annotation_name(annotation)})",
                                "fix the value", key=f"params.{name}{where}") from None
    return out


def _takes_text(annotation: Any) -> bool:
    """Whether an annotation accepts text (``int | str``): then ``"bye"`` is not a mistyped number."""
    import typing

    options = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else (annotation,)
    return any(a is str or a is Any for a in options)


def _annotation_name(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")


def as_workload(made: Any, name: str) -> Workload:
    """Accepts a Workload, or an (nn.Module, input_factory) pair, which becomes one component."""
    if isinstance(made, Workload):
        return made
    if isinstance(made, tuple) and len(made) == 2 and callable(made[1]):
        import torch

        if isinstance(made[0], torch.nn.Module):
            return module_workload(name, made[0], made[1])
    raise WorkloadError(f"factory {name!r} returned {type(made).__name__}", "return a Workload or (nn.Module, input_factory)", key="workload")


# Factories handed over in-process by the Python API (``nscharacterize.api.run_model``): a model
# object has no import path, so it gets a reference of its own that only this process resolves.
LOCAL_PREFIX = "<python>:"
_LOCAL: dict[str, Callable[..., Any]] = {}


def register_local(name: str, factory: Callable[..., Any]) -> str:
    """A workload reference (``<python>:NAME``) for ``factory`` in this process; ``forget_local``
    drops it. The caller built the factory itself, so the trust checks of a config's import path
    do not apply."""
    ref = f"{LOCAL_PREFIX}{name}"
    _LOCAL[ref] = factory
    return ref


def forget_local(ref: str) -> None:
    _LOCAL.pop(ref, None)


def resolve_factory(ref: str) -> Callable[..., Any]:
    """Imports and returns the factory, refusing what must not be called with a config's params."""
    if ref in _LOCAL:
        return _LOCAL[ref]
    if ref.startswith(LOCAL_PREFIX):
        raise WorkloadError(f"{ref!r} was handed over by the Python API of another process",
                            "re-run it from that Python session (nscharacterize.api.run_model)", key="workload")
    factory = _import_attr(ref, what="workload factory")
    fix = "point at a function you wrote that returns a Workload or (nn.Module, input_factory)"
    if not callable(factory):
        raise WorkloadError(f"{ref!r} is not callable", fix, key="workload")
    if not inspect.isfunction(factory):
        kind = "class" if inspect.isclass(factory) else type(factory).__name__
        raise WorkloadError(f"{ref!r} is a {kind}, not a Python function", fix, key="workload")
    where = home(factory.__code__.co_filename)
    if where == "stdlib":
        raise WorkloadError(f"{ref!r} is part of Python's standard library, not a workload factory", fix, key="workload")
    if where in ("installed", "package") and not _returns_workload(factory):
        origin = "an installed package" if where == "installed" else "nscharacterize itself"
        raise WorkloadError(f"{ref!r} comes from {origin} and is not annotated '-> Workload'",
                            "annotate the factory's return type as Workload, or point at your own module",
                            key="workload")
    return factory


def home(filename: str) -> str:
    """'stdlib', 'installed' (site-packages), 'package' (nscharacterize itself) or 'user' for a
    function's source file. Only 'user' code is called with a config's params unasked: the
    project's own functions (a file writer, the baseline remover) are no more a factory than
    ``shutil.rmtree`` is, even in an editable checkout."""
    path = os.path.realpath(filename)
    paths = sysconfig.get_paths()
    installed = {os.path.realpath(paths[k]) for k in ("purelib", "platlib")}
    installed |= {os.path.realpath(p) for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    # Site-packages first: a virtual environment often lives inside the checkout (.venv), and its
    # packages are installed ones even though their files sit under the project's folder.
    if any(path.startswith(p + os.sep) for p in installed):
        return "installed"
    if path.startswith(os.path.realpath(os.path.dirname(os.path.dirname(__file__))) + os.sep):
        return "package"
    stdlib = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib")}
    if any(path.startswith(p + os.sep) for p in stdlib):
        return "stdlib"
    return "user"


def _returns_workload(fn: Callable[..., Any]) -> bool:
    annotation = fn.__annotations__.get("return")
    if isinstance(annotation, str):
        return annotation.split(".")[-1] == "Workload"
    return isinstance(annotation, type) and issubclass(annotation, Workload)


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _origin(exc: BaseException) -> str:
    """' (file, line N)' of the innermost frame of a failed import, for the one-line message."""
    frames = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in frames if "importlib" not in f.filename]
    return f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""


def _import_attr(ref: str, what: str) -> Any:
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise WorkloadError(f"{what} {ref!r} is not a reference", "write 'package.module:factory'", key="workload")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise WorkloadError(f"cannot import {what} module {module_name!r}: {exc}",
                                "install it or put its folder on PYTHONPATH", key="workload") from None
        raise WorkloadError(f"{what} module {module_name!r} failed to import: {exc}{_origin(exc)}",
                            "install what it needs", key="workload") from None
    except SyntaxError as exc:
        raise WorkloadError(f"{what} module {module_name!r} has a syntax error: {exc.msg} "
                            f"({exc.filename}, line {exc.lineno})", "fix the module", key="workload") from None
    except (Exception, SystemExit) as exc:  # the module's own code failed while it was imported
        text = str(exc).splitlines()[0] if str(exc) else ""
        raise WorkloadError(f"{what} module {module_name!r} raised {type(exc).__name__}"
                            f"{': ' + text if text else ''} when imported{_origin(exc)}",
                            "fix the module (import it in Python to see the traceback)", key="workload") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise WorkloadError(f"module {module_name!r} has no attribute {attr!r} ({what})", "check the name after ':'", key="workload") from None
