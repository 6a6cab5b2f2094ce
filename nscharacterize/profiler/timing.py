"""Unprofiled timing: what a component takes when nobody is watching."""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import torch


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed_call(fn: Callable[[Any], Any], x: Any, device: str) -> tuple[Any, float]:
    synchronize(device)
    start = time.perf_counter()
    out = fn(x)
    synchronize(device)
    return out, time.perf_counter() - start


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
