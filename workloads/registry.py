"""Built-in workloads by name, and loading of user workloads from ``package.module:factory``.

Built-ins are listed as import paths so that ``nscharacterize list`` and config validation only
import the workloads they are asked about (torchvision and OpenNMT-py are slow to import).
"""
from __future__ import annotations

import importlib
import inspect
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict

from .base import Workload, WorkloadError, module_workload


class Params(BaseModel):
    """Base of every built-in workload's parameters: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


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
    kwargs = dict(params or {})
    if "seed" in inspect.signature(factory).parameters:
        kwargs.setdefault("seed", seed)
    try:
        made = factory(**kwargs)
    except TypeError as exc:
        raise WorkloadError(f"workload factory {ref!r} rejected params {sorted(kwargs)}: {exc}", "match the factory's signature", key="params") from exc
    return as_workload(made, name=ref.split(":")[-1])


def as_workload(made: Any, name: str) -> Workload:
    """Accepts a Workload, or an (nn.Module, input_factory) pair, which becomes one component."""
    if isinstance(made, Workload):
        return made
    if isinstance(made, tuple) and len(made) == 2 and callable(made[1]):
        import torch

        if isinstance(made[0], torch.nn.Module):
            return module_workload(name, made[0], made[1])
    raise WorkloadError(f"factory {name!r} returned {type(made).__name__}", "return a Workload or (nn.Module, input_factory)", key="workload")


def resolve_factory(ref: str) -> Callable[..., Any]:
    factory = _import_attr(ref, what="workload factory")
    if not callable(factory):
        raise WorkloadError(f"{ref!r} is not callable", "point at a function returning a Workload", key="workload")
    return factory


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _import_attr(ref: str, what: str) -> Any:
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise WorkloadError(f"{what} {ref!r} is not a reference", "write 'package.module:factory'", key="workload")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise WorkloadError(f"cannot import {what} module {module_name!r}: {exc}", "install it or put its folder on PYTHONPATH", key="workload") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise WorkloadError(f"module {module_name!r} has no attribute {attr!r} ({what})", "check the name after ':'", key="workload") from None
