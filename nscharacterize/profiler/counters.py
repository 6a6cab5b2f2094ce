"""CPU hardware counters (cycles, instructions, cache misses) through Linux perf_event_open.

torch's own ``performance_events`` silently returns zero events where Linux perf is unavailable,
and ``_ExperimentalConfig(profiler_metrics=...)`` is gone, so this module asks the kernel itself:
:func:`probe` opens one counter of each kind for the calling thread and says, in one line, what the
machine allows and why not. Virtual machines often expose no hardware PMU (no ``cpu`` under
/sys/bus/event_source/devices), and ``kernel.perf_event_paranoid`` above 2 refuses user processes.

Where the counters open, :class:`Counters` reads them around each op (``OpMetricsMode`` adds the
differences to the op's category). Only the calling thread is counted (intra-op threads are not:
run with ``threads: 1`` for complete counts).
"""
from __future__ import annotations

import ctypes
import os
import platform
import struct
from dataclasses import dataclass, field
from pathlib import Path

# perf_event_attr: PERF_TYPE_HARDWARE = 0 with config CPU_CYCLES 0, INSTRUCTIONS 1, CACHE_MISSES 3
EVENTS = {"cycles": 0, "instructions": 1, "cache_misses": 3}
_SYSCALL = {"x86_64": 298, "aarch64": 241}
_ATTR_SIZE = 128
_FLAGS = (1 << 5) | (1 << 6)            # exclude_kernel, exclude_hv: what paranoid <= 2 allows


@dataclass
class CounterProbe:
    available: bool
    events: list[str] = field(default_factory=list)
    reason: str = ""

    def line(self) -> str:
        if self.available:
            return f"hardware counters: {', '.join(self.events)} per category (calling thread only)"
        return f"hardware counters: not available ({self.reason})"


def _open(config: int) -> int:
    number = _SYSCALL.get(platform.machine())
    if number is None:
        raise OSError(0, f"no perf_event_open syscall number for {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    attr = bytearray(_ATTR_SIZE)
    struct.pack_into("IIQ", attr, 0, 0, _ATTR_SIZE, config)
    struct.pack_into("Q", attr, 40, _FLAGS)
    buf = ctypes.create_string_buffer(bytes(attr), _ATTR_SIZE)
    fd = libc.syscall(number, buf, 0, -1, -1, 0)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return fd


def probe() -> CounterProbe:
    """Which counters this process can read, or one line saying why none."""
    if platform.system() != "Linux":
        return CounterProbe(False, reason=f"perf_event_open is Linux-only; this is {platform.system()}")
    paranoid = Path("/proc/sys/kernel/perf_event_paranoid")
    level = paranoid.read_text().strip() if paranoid.is_file() else "?"
    opened, errors = [], []
    for name, config in EVENTS.items():
        try:
            os.close(_open(config))
            opened.append(name)
        except OSError as exc:
            errors.append(f"{name}: {exc.strerror}")
    if opened:
        return CounterProbe(True, opened)
    pmu = Path("/sys/bus/event_source/devices/cpu").exists()
    why = ("no hardware PMU is exposed to this machine (no cpu under /sys/bus/event_source/devices; "
           "common in virtual machines)") if not pmu else f"kernel.perf_event_paranoid is {level}"
    return CounterProbe(False, reason=f"{why}; perf_event_open said {errors[0] if errors else 'nothing'}")


class Counters:
    """Open counters of the calling thread; :meth:`read` gives their running values."""

    def __init__(self, events: list[str]):
        self.names = list(events)
        self.fds = [_open(EVENTS[n]) for n in self.names]

    def read(self) -> list[int]:
        return [struct.unpack("Q", os.read(fd, 8))[0] for fd in self.fds]

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []
