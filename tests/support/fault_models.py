"""Tiny user workloads that fail in every way a real one can, for the fault-injection tests.

Loaded through ``fault_models:NAME`` like any user workload (tests/ is on PYTHONPATH in run_cli).
"""
from __future__ import annotations

import os
import sys
import time

import torch

from nscharacterize.workloads.base import Component, Workload


def _pipeline(name: str, step, samples=lambda n: list(range(n))) -> Workload:
    def neural(i):
        return torch.ones(4) * i

    return Workload(name, [Component("neural", neural, "neural", "torch"),
                           Component("symbolic", step, "symbolic", "cprofile")], samples)


def exits(code: int | str = 3, at: int = 1) -> Workload:
    """Calls sys.exit(code) on sample ``at``, after the earlier samples were measured."""
    def step(x):
        if int(x.sum()) // 4 >= at:
            sys.exit(code)
        return int(x.sum())

    return _pipeline("exits", step)


def hard_exit(at: int = 1, code: int = 7) -> Workload:
    """os._exit on sample ``at``: no handler runs, as with SIGKILL or the OOM killer."""
    def step(x):
        if int(x.sum()) // 4 >= at:
            os._exit(code)
        return int(x.sum())

    return _pipeline("hard-exit", step)


def raises(at: int = 1) -> Workload:
    def step(x):
        if int(x.sum()) // 4 >= at:
            raise RuntimeError(f"planted failure on sample {at}")
        return int(x.sum())

    return _pipeline("raises", step)


def factory_exits(code: int = 3):
    sys.exit(code)


def returns_nonsense():
    return 42


def slow(pause: float = 0.15) -> Workload:
    """Each component call sleeps: a run long enough to be stopped at a random point."""
    def step(x):
        time.sleep(pause)
        return int(x.sum())

    return _pipeline("slow", step)


class NotAFunction:
    def __init__(self, objects: int = 3):
        self.objects = objects


HANGING = "NSC_TEST_HANGING_FILE"   # ignores_sigterm creates this file once it ignores SIGTERM


def ignores_sigterm(at: int = 1, pause: float = 600.0) -> Workload:
    """From sample ``at`` on, ignores SIGTERM and hangs: a run stuck where no signal handler runs
    (as in a long native call), which only SIGKILL stops. Once it ignores SIGTERM it creates the
    file named by ``HANGING`` (if set), for a test to know when to send it."""
    import signal

    def step(x):
        if int(x.sum()) // 4 >= at:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if os.environ.get(HANGING):
                open(os.environ[HANGING], "w").close()
            time.sleep(pause)
        return int(x.sum())

    return _pipeline("ignores-sigterm", step)
