"""Memory footprint and sparsity per operator category, measured at dispatch level, off the timed path.

A ``TorchDispatchMode`` sees every ATen op a component runs, functional calls and backward ops
included (module hooks would see only named modules). For each op it records:

* **memory**: the bytes of every storage an op's outputs hold that none of its inputs held (a new
  allocation; views and in-place ops allocate nothing), by the op's category; the running total of
  those bytes still alive (freed when the output tensor object is collected), whose maximum is the
  component's peak of intermediates; and the distinct storages the ops read that existed before the
  component started: the parameters and buffers of its modules, its input, and the rest of the
  state it holds (codebooks, fact tables held outside modules).
* **sparsity** (opt-in): per category, the elements of each op's floating outputs and inputs, how
  many are exactly zero and how many lie within ``tolerance`` of zero. The counts are summed as
  tensors on the op's device and read once per component pass, so a GPU is synchronised once, not
  once per op.

What the method cannot see (docs/guide/metrics.md): allocations made outside the dispatcher
(``torch.from_numpy``, C++ extensions' own buffers), the allocator's rounding and caching (on CUDA
the allocator's own peak is recorded beside it), a view that outlives its base tensor object
(counted as freed with the base), and memory that is not tensors (Python objects of symbolic code).
"""
from __future__ import annotations

import sys
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from nscharacterize.rundir.schemas import COUNTERS, MEMORY, SPARSITY

Classify = Callable[[str], str]   # an ATen op name -> its category


def _tensors(value: Any) -> list[torch.Tensor]:
    """The tensors in an op's arguments or results, in order. ATen ops take and return only
    tensors, scalars and lists, tuples (return types included) and dicts of them, so a walk of
    those finds them all, at a sixth of the cost of torch's general ``tree_flatten`` (which was a
    third of the metrics pass, run on every op)."""
    if isinstance(value, torch.Tensor):
        return [value]
    found: list[torch.Tensor] = []
    _collect(value, found)
    return found


def _collect(value: Any, found: list[torch.Tensor]) -> None:
    if isinstance(value, torch.Tensor):
        found.append(value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _collect(v, found)


def _storage(t: torch.Tensor) -> tuple[int, int] | None:
    """(data pointer, bytes) of a tensor's storage; None for tensors without one (sparse, meta)."""
    if t.layout != torch.strided or t.device.type == "meta":
        return None
    try:
        st = t.untyped_storage()
    except (RuntimeError, NotImplementedError):
        return None
    return (st.data_ptr(), st.nbytes()) if st.data_ptr() else None


@dataclass
class ComponentMetrics:
    """What one pass of one component allocated, read and computed."""

    allocated: dict[str, int] = field(default_factory=lambda: defaultdict(int))   # category -> bytes
    peak_intermediate_bytes: int = 0
    read_before: dict[int, int] = field(default_factory=dict)                    # storage -> bytes
    sparsity: dict[tuple[str, str], list[float]] = field(default_factory=dict)   # (category, side) -> [n, zeros, near]
    ops: int = 0
    parameters: set[int] = field(default_factory=set)                             # storages of nn.Parameters read
    counters: dict[str, list[int]] = field(default_factory=dict)                 # category -> counter deltas


class OpMetricsMode(TorchDispatchMode):
    """Collects :class:`ComponentMetrics` for the ops run inside it (see the module's docstring).

    Its ``__torch_dispatch__`` is left as written (``_should_skip_dynamo``): torch >= 2.5 wraps a
    mode's hook so that Dynamo never compiles inside it, and the wrapper imports ``torch._dynamo``
    at the first op (about 1 s, the first workload's whole metrics pass on configs/ci.yaml) and
    goes through Dynamo's frame guard on every op after. Where Dynamo has compiled a frame (the
    user compiles a model), :func:`metrics_mode` gives the wrapped :class:`_DynamoSafeOpMetricsMode`
    instead.
    """

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False

    def __init__(self, classify: Classify, sparsity: bool = False, tolerance: float = 0.0, counters: Any = None):
        super().__init__()
        self.counters = counters             # a profiler.counters.Counters, read around each op
        self.classify = classify
        self.categories: dict[str, str] = {}
        self.want_sparsity = sparsity
        self.tolerance = tolerance
        self.metrics = ComponentMetrics()
        self._live: dict[int, int] = {}      # storage -> bytes of the outputs allocated here, still alive
        self._live_bytes = 0
        self._made: set[int] = set()         # storages allocated inside this pass
        self._acc: dict[tuple[str, str], torch.Tensor] = {}
        self._elements: dict[tuple[str, str], int] = {}

    def _category(self, name: str) -> str:
        if name not in self.categories:
            self.categories[name] = self.classify(name)
        return self.categories[name]

    def _freed(self, ptr: int) -> None:
        self._live_bytes -= self._live.pop(ptr, 0)

    def _count(self, category: str, side: str, tensors: Iterable[torch.Tensor]) -> None:
        for t in tensors:
            if not (t.is_floating_point() and t.layout == torch.strided and t.numel()):
                continue
            zeros = (t == 0).sum()
            near = (t.abs() <= self.tolerance).sum() if self.tolerance > 0 else zeros
            row = torch.stack([zeros, near])            # stays on the device: no sync per op
            key = (category, side)
            self._acc[key] = self._acc[key] + row if key in self._acc else row
            self._elements[key] = self._elements.get(key, 0) + t.numel()   # known on the host

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        before = self.counters.read() if self.counters is not None else None
        out = func(*args, **(kwargs or {}))
        name = func._schema.name
        category = self._category(name)
        if before is not None:
            totals = self.metrics.counters.setdefault(category, [0] * len(before))
            for i, (b, a) in enumerate(zip(before, self.counters.read())):
                totals[i] += a - b
        self.metrics.ops += 1
        inputs = _tensors((args, kwargs))
        seen_in: set[int] = set()
        for t in inputs:
            st = _storage(t)
            if st is None:
                continue
            seen_in.add(st[0])
            if st[0] not in self._made:
                self.metrics.read_before.setdefault(st[0], st[1])
                if isinstance(t, torch.nn.Parameter):
                    self.metrics.parameters.add(st[0])
        outputs = _tensors(out)
        for t in outputs:
            st = _storage(t)
            if st is None or st[0] in seen_in or st[0] in self._live:
                continue
            self._made.add(st[0])
            self.metrics.allocated[category] += st[1]
            self._live[st[0]] = st[1]
            self._live_bytes += st[1]
            weakref.finalize(t, self._freed, st[0])
            self.metrics.peak_intermediate_bytes = max(self.metrics.peak_intermediate_bytes, self._live_bytes)
        if self.want_sparsity:
            self._count(category, "output", outputs)
            self._count(category, "input", inputs)
        return out

    def finish(self) -> ComponentMetrics:
        """Reads the device-side sparsity sums (the one sync) and returns the pass's metrics."""
        self.metrics.sparsity = {k: [float(self._elements[k])] + [float(v) for v in acc.tolist()]
                                 for k, acc in self._acc.items()}
        return self.metrics


class _DynamoSafeOpMetricsMode(OpMetricsMode):
    """The same mode with torch's Dynamo guard around its hook (torch wraps a hook defined in the
    class itself, hence the re-binding): for processes that compile."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return True

    __torch_dispatch__ = OpMetricsMode.__torch_dispatch__


def metrics_mode(classify: Classify, sparsity: bool = False, tolerance: float = 0.0,
                 counters: Any = None) -> OpMetricsMode:
    """The mode for one pass: guarded only where Dynamo has compiled something in this process.
    The metrics pass runs after the timed passes, where a workload compiles, so a process whose
    Dynamo has converted no frame has nothing compiled to run inside the hook. Loading Dynamo is
    not enough: ``torch.optim``'s optimizers import it without compiling (dolphin-sum's Adam made
    every later workload of configs/ci.yaml take the guarded hook: 2 s of its 2.6 s metrics pass)."""
    cls = _DynamoSafeOpMetricsMode if _dynamo_compiled() else OpMetricsMode
    return cls(classify, sparsity, tolerance, counters)


def _dynamo_compiled() -> bool:
    """Whether Dynamo has tried to convert any frame in this process (its own frame counter, the
    same in torch 2.3 and 2.14); when that cannot be read, assume it has."""
    if "torch._dynamo" not in sys.modules:
        return False
    try:
        from torch._dynamo.utils import counters

        return bool(counters["frames"]["total"])
    except Exception:  # noqa: BLE001 (a private counter: any change of it must not stop the pass)
        return True


def module_storages(modules: Iterable[Any]) -> dict[int, int]:
    """Storage -> bytes of the parameters and buffers of ``modules`` (shared weights counted once)."""
    found: dict[int, int] = {}
    for m in modules:
        if not isinstance(m, torch.nn.Module):
            continue
        for t in list(m.parameters()) + list(m.buffers()):
            st = _storage(t)
            if st is not None:
                found.setdefault(*st)
    return found


def input_storages(value: Any) -> dict[int, int]:
    found: dict[int, int] = {}
    for t in _tensors(value):
        st = _storage(t)
        if st is not None:
            found.setdefault(*st)
    return found


# memory.csv, sparsity.csv and counters.csv: their schemas are nscharacterize/rundir/schemas.py's
MEMORY_COLUMNS = MEMORY.names
SPARSITY_COLUMNS = SPARSITY.names


COUNTER_COLUMNS = COUNTERS.names


def measure_workload(workload: Any, label: str, samples: list, classify: Classify, device: str,
                     sparsity: bool = False, tolerance: float = 0.0,
                     counters: Any = None) -> tuple[list[dict], list[dict], list[dict]]:
    """Runs ``samples`` through the workload's components once more, each component inside an
    :class:`OpMetricsMode`, and returns memory, sparsity and counter rows (MEMORY_COLUMNS, SPARSITY_COLUMNS,
    COUNTER_COLUMNS; counter rows only with ``counters``, a :class:`~.counters.Counters`).

    Memory parts: ``parameters`` (parameters the ops read, and its modules' buffers), ``inputs`` (its
    input's tensors the ops read), ``state`` (other tensors that existed before the component and that
    its ops read: codebooks, fact tables), ``peak_intermediates`` (the most bytes allocated by its ops
    alive at once) and, per category, ``allocated`` (all bytes its ops allocated); on CUDA also
    ``allocator_peak`` (torch.cuda.max_memory_allocated during the pass, above what was allocated
    before it), the allocator's view of the same peak.
    """
    from .torch_compat import cuda_allocated_bytes, cuda_peak_bytes, reset_cuda_peak

    memory: list[dict] = []
    sparse: list[dict] = []
    counted: list[dict] = []
    for index, sample in enumerate(samples):
        x = sample
        for c in workload.components:
            params = module_storages(c.modules)
            given = input_storages(x)
            on_cuda = device.startswith("cuda") and torch.cuda.is_available()
            if on_cuda:
                torch.cuda.synchronize()
                reset_cuda_peak(device)
                base = cuda_allocated_bytes(device)
            mode = metrics_mode(classify, sparsity, tolerance, counters)
            with mode:
                x = c.fn(x)
            m = mode.finish()
            row = {"workload": label, "component": c.name, "kind": c.kind, "device": device, "sample": index}
            read = m.read_before
            params = {**params, **{p: read[p] for p in m.parameters}}
            parts = {"parameters": sum(b for p, b in read.items() if p in params),
                     "inputs": sum(b for p, b in read.items() if p in given and p not in params),
                     "state": sum(b for p, b in read.items() if p not in params and p not in given),
                     "peak_intermediates": m.peak_intermediate_bytes}
            if on_cuda:
                torch.cuda.synchronize()
                parts["allocator_peak"] = int(max(0.0, cuda_peak_bytes(device) - base))
            memory += [{**row, "part": part, "category": "", "bytes": int(b)} for part, b in parts.items()]
            memory += [{**row, "part": "allocated", "category": cat, "bytes": int(b)}
                       for cat, b in sorted(m.allocated.items())]
            sparse += [{**row, "category": cat, "side": side, "elements": v[0], "zeros": v[1], "near_zeros": v[2],
                        "tolerance": tolerance} for (cat, side), v in sorted(m.sparsity.items())]
            if counters is not None:
                counted += [{**row, "category": cat, "event": event, "value": int(v)}
                            for cat, values in sorted(m.counters.items()) for event, v in zip(counters.names, values)]
    return memory, sparse, counted
