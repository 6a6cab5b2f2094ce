"""What the machine was doing while a run measured: load, other processes' CPU time, frequency.

A regression gate that compares two runs must know whether one of them ran on a busy machine:
on a shared 2-core machine a single-threaded workload runs up to 3-4x slower while other jobs
compete for the cores, and nothing in the per-sample times of one run tells that apart from a
slower commit. So every run records, in its manifest (``machine``):

- ``load_before`` / ``load_after``: the 1, 5 and 15 minute load averages (``os.getloadavg``);
- ``runnable_mean``: the mean number of runnable threads of the whole machine, sampled every
  ``PERIOD_S`` by a daemon thread from ``/proc/loadavg`` (the 1-minute average lags by a minute;
  this does not), minus the sampler itself;
- ``other_cpu_s``: CPU time of every other process during the run (``/proc/stat`` busy time minus
  this process's own), ``other_busy``: that as a share of the machine's CPU capacity, ``steal_s``;
- ``cpu_mhz_before`` / ``cpu_mhz_after``: the mean current frequency where readable;
- ``contention``: the slowdown a CPU-bound run of ``threads`` threads would see from fair sharing,
  ``max(1, (runnable_mean - own + threads) / cpus)`` (1: the cores were free for it);
- ``repeat_spread`` (added by the pipeline from timings.csv): the median over samples of
  ``(max - min) / median`` of each sample's unprofiled repeats, the run's own noise.

Fields that cannot be read on a platform are ``None``; reading never fails a run.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

PERIOD_S = 0.25


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _runnable() -> int | None:
    """Runnable threads of the machine now (/proc/loadavg's 4th field, ``R/T``)."""
    try:
        return int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return None


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, steal) ticks of all CPUs from /proc/stat (idle and iowait are not busy)."""
    try:
        line = Path("/proc/stat").read_text().splitlines()[0].split()
        v = [int(x) for x in line[1:]]
    except (OSError, IndexError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq = v[:7]
    steal = v[7] if len(v) > 7 else 0
    return user + nice + system + irq + softirq + steal, steal


def _mhz() -> float | None:
    freqs = []
    for f in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_cur_freq"):
        try:
            freqs.append(int(f.read_text()) / 1000.0)
        except (OSError, ValueError):
            pass
    if not freqs:
        try:
            freqs = [float(line.split(":")[1]) for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("cpu MHz")]
        except (OSError, ValueError, IndexError):
            freqs = []
    return round(sum(freqs) / len(freqs), 1) if freqs else None


class Recorder:
    """Snapshots at ``start()`` and ``stop()``, with a sampler of runnable threads in between."""

    def __init__(self, threads: int = 1):
        self.threads = max(1, threads)
        self._samples: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Recorder":
        self._t0 = time.monotonic()
        self._own0 = time.process_time()
        self._ticks0 = _cpu_ticks()
        self._load0 = _loadavg()
        self._mhz0 = _mhz()
        if _runnable() is not None:
            self._thread = threading.Thread(target=self._sample, name="nsc-machine-noise", daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(PERIOD_S):
            r = _runnable()
            if r is not None:
                self._samples.append(r)

    def stop(self) -> dict:
        """The summary of the interval since ``start`` (a dict of plain numbers, for the manifest)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * PERIOD_S)
            if not self._samples:   # an interval shorter than a period, or a sampler that never got the
                # CPU on a loaded machine: one reading now (this thread is the reader, as the sampler is)
                r = _runnable()
                if r is not None:
                    self._samples.append(r)
        wall = max(time.monotonic() - self._t0, 1e-9)
        own = time.process_time() - self._own0
        ticks = _cpu_ticks()
        cpus = os.cpu_count() or 1
        out: dict = {"wall_s": round(wall, 3), "cpus": cpus, "threads": self.threads, "own_cpu_s": round(own, 3),
                     "load_before": self._load0, "load_after": _loadavg(),
                     "cpu_mhz_before": self._mhz0, "cpu_mhz_after": _mhz(),
                     "other_cpu_s": None, "other_busy": None, "steal_s": None,
                     "runnable_mean": None, "contention": None}
        if ticks is not None and self._ticks0 is not None:
            hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
            busy = (ticks[0] - self._ticks0[0]) / hz
            other = max(0.0, busy - own)
            out.update(other_cpu_s=round(other, 3), other_busy=round(min(1.0, other / (wall * cpus)), 3),
                       steal_s=round((ticks[1] - self._ticks0[1]) / hz, 3))
        if self._samples:
            # the sampler itself is running when it reads; the measured process's own threads
            # (its CPU time over the wall time) are counted by `threads` below instead
            mean = sum(self._samples) / len(self._samples) - 1.0
            own_threads = min(float(self.threads), own / wall)
            others = max(0.0, mean - own_threads)
            out["runnable_mean"] = round(mean + 1.0, 2)
            out["contention"] = round(max(1.0, (others + self.threads) / cpus), 3)
        return out


def repeat_spread(timings) -> float | None:
    """Median over samples of the relative spread of the unprofiled repeats ((max - min) / wall)."""
    try:
        t = timings[(timings["wall_s"] > 0) & (timings["repeats"] > 1)]
    except (KeyError, TypeError):
        return None
    if not len(t):
        return None
    rel = (t["wall_max_s"] - t["wall_min_s"]) / t["wall_s"]
    return round(float(rel.median()), 4)
