"""NVTX ranges around each component of the timed passes, so Nsight Compute can say which kernel
ran in which component.

Off unless ``profiler.nvtx`` (or ``run --nvtx``) is set and the device is CUDA: an ordinary run
never calls NVTX. Only the unprofiled timed passes are wrapped (warm-up and repeats): those are
the kernels the run times, without torch.profiler in the way. Each call gets its own range,

    nsc|<workload>|<component>|s<sample>r<repeat>     (warm-up passes: w<index>)

so a reader can count how many passes it saw and report work per pass, the unit the modelled
roofline uses (mean per sample). ``|`` is used because Nsight Compute writes ``:`` and ``/``
between the fields and levels of its NVTX column.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator

PREFIX = "nsc"
SEP = "|"
RANGE_RE = re.compile(r"nsc\|(?P<workload>[^|\"]+)\|(?P<component>[^|\"]+)\|(?P<pass>(?:s\d+r\d+)|(?:w\d+))")


def range_name(workload: str, component: str, tag: str) -> str:
    """``tag``: ``s<sample>r<repeat>`` for a timed pass, ``w<index>`` for a warm-up pass."""
    return SEP.join((PREFIX, workload, component.replace(SEP, "_"), tag))


@contextmanager
def component_range(name: str | None) -> Iterator[None]:
    """Pushes ``name`` as an NVTX range for the block; ``None``: nothing at all (the default path)."""
    if name is None:
        yield
        return
    import torch.cuda.nvtx as nvtx

    nvtx.range_push(name)
    try:
        yield
    finally:
        nvtx.range_pop()
