"""Tiny user workloads that misbehave in ways that once broke the run itself, not only themselves
(tests/faults/test_faults_hostile.py). Loaded through ``hostile_models:NAME``."""
from __future__ import annotations

import os
import sys

import torch

from nscharacterize.workloads.base import Component, Workload


def _one(name: str, step, samples=lambda n: list(range(n)), info=None) -> Workload:
    return Workload(name, [Component("step", step, "neural", "torch")], samples, info=info or {})


class Custom(BaseException):
    """A BaseException that is not an Exception, as some libraries define."""


def raises_base(kind: str = "generator_exit") -> Workload:
    def step(i):
        raise GeneratorExit("planted") if kind == "generator_exit" else Custom("planted")

    return _one("raises-base", step)


def unsaveable_info() -> Workload:
    cyclic: dict = {}
    cyclic["self"] = cyclic
    return _one("unsaveable-info", lambda i: torch.ones(2) * i, info={"cycle": cyclic})


def odd_info() -> Workload:
    """Info that is not JSON but has a plain text form: kept as text."""
    return _one("odd-info", lambda i: torch.ones(2) * i, info={"path": object.__new__(object), "n": 3})


def too_few_samples() -> Workload:
    return _one("too-few", lambda i: torch.ones(2) * i, samples=lambda n: list(range(max(0, n - 1))))


def changes_directory(to: str) -> Workload:
    def step(i):
        os.chdir(to)
        return torch.ones(2) * i

    return _one("chdir", step)


def closes_stdout() -> Workload:
    def step(i):
        sys.stdout.close()
        return torch.ones(2) * i

    return _one("closes-stdout", step)
