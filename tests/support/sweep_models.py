"""User workloads for the sweep tests: one whose process dies at a given size."""
from __future__ import annotations

import os
import signal

import torch


def dies_at(size: int = 4, die: int = -1):
    """A small matmul of ``size``; the process kills itself (SIGKILL) when ``size == die``, the way
    an out-of-memory kill or a crashed worker ends a point."""
    if size == die:
        os.kill(os.getpid(), signal.SIGKILL)
    model = torch.nn.Linear(size, size)
    return model, lambda i: torch.randn(8, size, generator=torch.Generator().manual_seed(i))
