"""Everything that differs across the supported torch versions, read in one place.

The oldest supported pair is torch 2.3 / torchvision 0.18 (pyproject.toml, docs/guide/install.md): the first
torch built against numpy 2. Differences the tool meets between 2.3 and current releases:

- ``FunctionEvent.input_dtypes`` does not exist before 2.4-ish builds (it broke torch 2.11 users
  when read directly); ``self_device_time_total`` was ``self_cuda_time_total`` in 2.3.
- torch < 2.4 turns every profile into FunctionEvents as soon as it stops (slow, but correct);
  newer torch does it lazily, so exporting the trace alone skips that work.
- ``FunctionEvent.structured_input_shapes`` (the shapes inside tensor-list arguments, as the
  Chrome trace writes them) is recent; older builds have only ``input_shapes``, where such an
  argument is an empty entry. ``concrete_inputs`` may be missing on old builds too.
- CUDA memory statistics are only touched when a GPU is there.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

TORCH_VERSION = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2] if p.isdigit())
OLDEST_TORCH = (2, 3)   # also declared in pyproject.toml and tested by .ci/run's second venv


def events_are_lazy() -> bool:
    """Whether stopping a profile leaves the FunctionEvent parse for later (torch >= 2.4). Where it
    does not (2.3), the events already exist and are read as they are (the trace is still needed
    on CUDA for the timeline walk). Their times are whole microseconds, as the trace's are on 2.3:
    an op under a microsecond has a self time of 0 or 1 us, and which tiny op nests in which can
    differ from sample to sample (the ``children`` key of a row)."""
    from torch.autograd import profiler as autograd_profiler

    return hasattr(autograd_profiler.profile, "_ensure_function_events")


def dtypes_of(prof) -> Callable[[Any], list]:
    """``dtypes(evt)``: the argument dtypes of an event of ``prof.events()``, one per argument.
    torch 2.3's FunctionEvent has no ``input_dtypes``; the Kineto events it was built from do
    (``dtypes()``), under the same id (their correlation id), so they are read there once. Without
    them the cost model sized no op on 2.3: every FLOP and byte of the roofline was 0."""
    by_id: dict | None = None

    def dtypes(evt) -> list:
        nonlocal by_id
        own = getattr(evt, "input_dtypes", None)
        if own is not None:
            return list(own)
        if by_id is None:
            try:
                by_id = {e.correlation_id(): e.dtypes() for e in prof.profiler.kineto_results.events()}
            except AttributeError:   # a build without Kineto results: no dtypes, as before
                by_id = {}
        return list(by_id.get(evt.id) or [])

    return dtypes


def input_shapes(evt) -> list:
    """Shapes per argument, tensor lists nested where this torch records them."""
    return list(getattr(evt, "structured_input_shapes", None) or evt.input_shapes or [])


def concrete_values(evt) -> list:
    """The op's concrete (non-tensor) argument values, one per argument (None for tensors)."""
    return list(getattr(evt, "concrete_inputs", None) or [])


def self_device_us(evt) -> float:
    value = getattr(evt, "self_device_time_total", None)
    if value is None:
        value = getattr(evt, "self_cuda_time_total", 0.0)
    return float(value or 0.0)


def export_trace(prof, path: str) -> None:
    """Writes the Chrome trace of a stopped ``torch.profiler.profile`` (torch gzips ``.gz`` paths)."""
    prof.export_chrome_trace(path)


def cuda_allocated_bytes(device: str) -> float:
    return float(torch.cuda.memory_allocated()) if device == "cuda" else 0.0


def reset_cuda_peak(device: str) -> None:
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def cuda_peak_bytes(device: str) -> float:
    return float(torch.cuda.max_memory_allocated()) if device == "cuda" else float("nan")


def is_user_annotation(evt) -> bool:
    """``FunctionEvent.is_user_annotation`` appeared after 2.3; there, a range is told by its name."""
    return bool(getattr(evt, "is_user_annotation", False))
