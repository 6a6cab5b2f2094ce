"""The Workload interface: a pipeline of named components that the runner feeds samples through.

A workload is what the original system does at inference, cut at its neural/symbolic seams.
Every component is a plain callable ``fn(x) -> y``; the runner passes each component's output to
the next one, exactly as the real system would, so every stage is profiled on real inputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Sequence

from nscharacterize.core.errors import UserError

Kind = Literal["neural", "symbolic"]
ProfilerName = Literal["torch", "cprofile"]


class WorkloadError(UserError):
    """A problem with a workload's selection, parameters or definition. Raised deep inside a
    workload, where no file is known: the config loader and the pipeline place it in the config
    (``UserError.located``)."""

    def __init__(self, what: str, fix: str = "", key: str = ""):
        super().__init__(None, key, what, fix)


@dataclass
class Component:
    """One stage of a workload.

    ``kind`` says which side of the neuro-symbolic split the stage is on; ``profiler`` says which
    backend sees its work: ``torch`` for tensor code, ``cprofile`` for pure-Python symbolic code.
    ``modules`` lists the ``nn.Module`` objects whose calls the stage makes; a config's ``compile``
    key compiles exactly these (nscharacterize/workloads/compile.py), so the stage's code itself never changes.
    """

    name: str
    fn: Callable[[Any], Any]
    kind: Kind = "neural"
    profiler: ProfilerName = "torch"
    modules: Sequence[Any] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("neural", "symbolic"):
            raise WorkloadError(f"got {self.kind!r}", "use 'neural' or 'symbolic'", key=f"component {self.name!r}.kind")
        if self.profiler not in ("torch", "cprofile"):
            raise WorkloadError(f"got {self.profiler!r}", "use 'torch' or 'cprofile'", key=f"component {self.name!r}.profiler")


@dataclass
class Workload:
    """A named pipeline of components plus the samples to feed it.

    ``make_samples(n)`` returns the first ``n`` inputs (deterministic from the workload's seed).
    ``to_device(device)`` moves models and returns nothing; the runner calls it once before warm-up.
    ``info`` holds facts worth keeping in the manifest (sizes, backends, parameter counts).
    """

    name: str
    components: Sequence[Component]
    make_samples: Callable[[int], Sequence[Any]]
    to_device: Callable[[str], None] = lambda device: None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.components:
            raise WorkloadError(f"{self.name!r} has no components", "give it at least one", key="workload")
        names = [c.name for c in self.components]
        if len(set(names)) != len(names):
            raise WorkloadError(f"{self.name!r} has duplicate component names {names}", "name each component once", key="workload")

    def run(self, sample: Any) -> Any:
        """Feeds one sample through every component, unprofiled (for tests and users)."""
        x = sample
        for component in self.components:
            x = component.fn(x)
        return x


def module_workload(name: str, module: Any, make_input: Callable[[int], Any], *, component: str = "forward",
                    kind: Kind = "neural") -> Workload:
    """Wraps an ``nn.Module`` plus an input factory as a one-component workload.

    ``make_input(i)`` builds the i-th input; the module runs under ``torch.no_grad`` in eval mode,
    which is the inference path the characterization is about. A model of several inputs (a
    Transformer's ``input_ids`` and ``attention_mask``) gets them as it would from its user: a
    tuple is spread into positional arguments (``module(*x)``), a dict into keyword arguments
    (``module(**x)``); anything else, a list included, is the one argument (to pass a tuple as
    one argument, wrap it: ``(pair,)``).
    """
    import torch

    module.eval()
    state = {"device": "cpu"}

    def to_device(device: str) -> None:
        state["device"] = device
        module.to(device)

    def forward(x: Any) -> Any:
        x = _move(x, state["device"])
        with torch.no_grad():
            if isinstance(x, tuple):
                return module(*x)
            if isinstance(x, dict):
                return module(**x)
            return module(x)

    def make_samples(n: int) -> list:
        return [make_input(i) for i in range(n)]

    return Workload(name=name, components=[Component(component, forward, kind=kind, profiler="torch",
                                                     modules=(module,))],
                    make_samples=make_samples, to_device=to_device,
                    info={"parameters": sum(p.numel() for p in module.parameters())})


def _move(x: Any, device: str) -> Any:
    """Moves tensors (possibly nested in tuples, lists and dicts) to ``device``."""
    import torch

    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, (list, tuple)):
        return type(x)(_move(v, device) for v in x)
    if isinstance(x, dict):
        return {k: _move(v, device) for k, v in x.items()}
    return x
