"""Compile mode: ``torch.compile`` applied to the modules a workload's components declare.

A config entry's ``compile: {mode: default|reduce-overhead|max-autotune, components: [...]}`` makes
the run compile every ``nn.Module`` listed in the chosen components' ``Component.modules`` (all
components that list any, by default) with ``module.compile(mode=...)`` (its ``forward``, where
that is torch's own: ``_compile_in_place``): the component's code is unchanged, each module call
goes through its compiled graph. Modules of one class share graphs (their parameters are graph
inputs); all compiled modules share one Dynamo cache, whose limit is
raised to ``RECOMPILE_LIMIT`` so that none falls back to eager.

Compilation is lazy (it happens on a module's first call with a new input shape), so it must not
land in the measured passes. :func:`compile_workload` therefore wraps ``make_samples``: after the
samples are made it runs every sample once through the pipeline (compiling for every shape the
measured passes will see), then once more, and records in ``Workload.info["compile"]`` the
compiler's own time (Dynamo's per-frame compile time, which includes AOTAutograd and Inductor's
code generation and C++/Triton builds), the two passes' wall times, the graphs compiled and
Inductor's FX-graph cache hits. :meth:`CompiledWorkload.finish` adds the graphs compiled during
the measured passes (0 unless a new shape appeared there) after the profiler is done. Dynamo's
in-memory caches are reset first, so an entry never reuses graphs an earlier entry compiled; the
on-disk FX-graph cache still applies, and its hits and misses are reported.

On the CPU, Inductor emits C++ kernels (``cpp_fused_*``) built with a C++ compiler; on CUDA it emits
Triton kernels (``triton_poi_*``, ``triton_red_*``, ``triton_per_*``, templates ``triton_tem_*``).
:func:`toolchain_problem` names what is missing before any work starts. CPU kernels get a profiler
range each (Inductor's ``cpp.enable_kernel_profile``) so their time is an event that the taxonomy
classifies instead of time outside any op. :func:`name_cpu_kernels` turns that on for the whole
run, so a user's factory that calls ``torch.compile`` itself gets the same: without it, a compiled
MLP showed no Element-wise time, its fused GELU, LayerNorm and softmax loops hidden in the Other
self time of the ``## Call CompiledFxGraph`` range.
"""
from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import time
from pathlib import Path
from types import ModuleType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .base import Workload, WorkloadError

MODES = ("default", "reduce-overhead", "max-autotune")
# Dynamo's wall time per compiled frame, recorded under "_compile.compile_inner" (torch 2.3:
# "_compile.<locals>.compile_inner")
_COMPILE_METRIC = "compile_inner"
RECOMPILE_LIMIT = 64   # Dynamo cache entries shared by every compiled module (torch's default: 8)


class CompileSettings(BaseModel):
    """The ``compile`` key of a workload entry."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["default", "reduce-overhead", "max-autotune"] = Field(
        "default", description="torch.compile mode: default, reduce-overhead (CUDA graphs on a GPU) or "
        "max-autotune (autotuned GEMM/conv templates)")
    components: list[str] | None = Field(
        None, description="components whose modules are compiled (default: every component that lists modules)")


# Inductor reads it when torch._inductor.config is first imported (a 0.8 s import, not done here).
KERNEL_PROFILE_VARIABLE = "TORCHINDUCTOR_CPP_ENABLE_KERNEL_PROFILE"


def name_cpu_kernels(config: ModuleType | None = None) -> None:
    """One profiler range per C++ kernel that Inductor builds from now on in this process (and its
    children), whoever calls ``torch.compile``: the run's ``compile`` key or the user's own
    factory. The range is what names a fused kernel in the trace; it records only while a profiler
    runs. The user's own ``TORCHINDUCTOR_CPP_ENABLE_KERNEL_PROFILE=0`` is kept. Called before the
    workloads are built (torch reads the variable when it imports Inductor's config) and after each
    is built (torch 2.3 reads no variable, but ``torch.compile`` has imported the config by then,
    and the kernels are built at the first call). ``config``: Inductor's config module, where the
    caller has imported it (compile mode); else the one imported already, if any."""
    if os.environ.get(KERNEL_PROFILE_VARIABLE, "1") == "0":
        return
    os.environ[KERNEL_PROFILE_VARIABLE] = "1"
    config = config or sys.modules.get("torch._inductor.config")   # imported already: the variable was read
    if config is not None:
        config.cpp.enable_kernel_profile = True  # type: ignore[attr-defined]


def toolchain_problem(device: str) -> tuple[str, str] | None:
    """(what is missing, how to fix it) for ``torch.compile`` on ``device`` here; None when it can run.

    The compiler and headers are checked before Inductor is imported (a slow import)."""
    if device != "cuda":
        cxx = os.environ.get("CXX") or next((c for c in ("g++", "c++", "clang++") if shutil.which(c)), None)
        if not cxx or not shutil.which(cxx):
            return ("torch.compile on cpu needs a C++ compiler (g++ or clang++, or $CXX) to build Inductor's "
                    "kernels and none was found", "install one (Debian: apt-get install g++), or remove 'compile'")
        include = sysconfig.get_paths().get("include")
        if not include or not (Path(include) / "Python.h").is_file():
            return ("torch.compile on cpu needs the Python headers (Python.h) to build Inductor's kernels",
                    "install them (Debian: apt-get install python3-dev), or remove 'compile'")
    try:
        import torch._inductor  # noqa: F401
    except Exception as exc:  # a broken or stripped torch build
        return (f"torch.compile's Inductor backend cannot be imported ({type(exc).__name__}: {exc})",
                "reinstall torch, or remove 'compile'")
    if device == "cuda":
        from torch.utils._triton import has_triton

        if not has_triton():
            return ("torch.compile on cuda needs Triton, which cannot be imported",
                    "pip install the triton matching the installed torch, or remove 'compile'")
    return None


def chosen_components(workload: Workload, settings: CompileSettings) -> list[str]:
    """The components whose modules ``settings`` compiles; a WorkloadError (key
    ``compile.components``) when one is not a component of ``workload`` or declares no modules.
    Needs only the built workload, not the compiler, so the pipeline checks it before any run
    starts."""
    names = [c.name for c in workload.components]
    chosen = settings.components if settings.components is not None else \
        [c.name for c in workload.components if c.modules]
    unknown = [n for n in chosen if n not in names]
    if unknown:
        raise WorkloadError(f"{unknown} are not components of {workload.name!r}",
                            f"name some of {', '.join(names)}", key="compile.components")
    bare = [n for n in chosen if not next(c for c in workload.components if c.name == n).modules]
    if bare or not chosen:
        raise WorkloadError(f"component(s) {bare or names} of {workload.name!r} declare no modules to compile "
                            "(Component.modules)", "pick components that do", key="compile.components")
    return chosen


class CompiledWorkload:
    """A workload whose components' modules are compiled; see the module docstring."""

    def __init__(self, workload: Workload, settings: CompileSettings, device: str):
        import torch

        self.workload, self.settings, self.device = workload, settings, device
        chosen = chosen_components(workload, settings)
        torch._dynamo.reset()   # graphs compiled for an earlier entry of the run must not be reused here
        if device == "cpu":
            name_cpu_kernels(torch._inductor.config)   # one profiler range per C++ kernel
        modules = [m for c in workload.components if c.name in chosen for m in c.modules]
        # torch.compile wraps every compiled callable in one shared function, so all modules' graphs
        # (one per module class and input-shape family) share one Dynamo cache, whose default limit
        # of 8 entries would silently send later modules back to eager.
        # torch < 2.6 names the limit cache_size_limit
        limit = "recompile_limit" if hasattr(torch._dynamo.config, "recompile_limit") else "cache_size_limit"
        setattr(torch._dynamo.config, limit, max(getattr(torch._dynamo.config, limit), RECOMPILE_LIMIT))
        for module in {id(m): m for m in modules}.values():
            _compile_in_place(module, settings.mode)
        self.facts: dict = {"mode": settings.mode, "components": chosen, "modules": len(modules),
                            "recompile_limit": getattr(torch._dynamo.config, limit)}
        workload.info["compile"] = self.facts
        self._make_samples = workload.make_samples
        workload.make_samples = self._make_and_compile

    def _make_and_compile(self, n: int) -> list:
        """Makes the samples, then compiles by running each through the pipeline (timed, twice)."""
        before = _compile_state()
        started = time.perf_counter()
        samples = list(self._make_samples(n))   # some workloads (NLM) call their model here already
        made = time.perf_counter() - started
        first = sum(_timed_pass(self.workload, s, self.device) for s in samples)
        after = _compile_state()
        if after["graphs"] == before["graphs"]:   # nothing was captured: the modules ran eagerly
            raise WorkloadError(f"torch.compile captured no graph of {self.workload.name!r}'s modules in a whole pass "
                                "over the samples, so they would run eagerly and be reported as compiled",
                                "make sure the components call the modules they list in Component.modules",
                                key="compile")
        steady = sum(_timed_pass(self.workload, s, self.device) for s in samples)
        self.facts.update({
            "compile_s": round(after["seconds"] - before["seconds"], 4),
            "graphs": after["graphs"] - before["graphs"],
            "make_samples_s": round(made, 4), "first_pass_s": round(first, 4), "steady_pass_s": round(steady, 4),
            "fx_graph_cache_hits": after["cache_hits"] - before["cache_hits"],
            "fx_graph_cache_misses": after["cache_misses"] - before["cache_misses"],
        })
        self._after_warmup = _compile_state()
        return samples

    def finish(self) -> None:
        """Records graphs compiled (and compile seconds) during the measured passes: 0 when clean."""
        if not hasattr(self, "_after_warmup"):
            return
        now = _compile_state()
        self.facts["graphs_during_measurement"] = now["graphs"] - self._after_warmup["graphs"]
        self.facts["compile_s_during_measurement"] = round(now["seconds"] - self._after_warmup["seconds"], 4)


def _compile_in_place(module, mode: str) -> None:
    """``module.compile(mode=...)``, except where the module's forward is torch's own (nn.Sequential,
    a bare Conv2d): Dynamo skips torch's files, and until torch fixed it (pytorch/pytorch#150915)
    ``module.compile()`` of such a module left no frame to capture, so it ran eagerly without a
    word (torch 2.3). Its forward is compiled instead, which Dynamo traces on every version."""
    import torch

    code = getattr(type(module).forward, "__code__", None)
    if code is not None and Path(code.co_filename).resolve().is_relative_to(Path(torch.__file__).resolve().parent):
        module.forward = torch.compile(module.forward, mode=mode)
    else:
        module.compile(mode=mode)


def compile_workload(workload: Workload, settings: CompileSettings | None, device: str) -> CompiledWorkload | None:
    """Compiles ``workload``'s modules in place when ``settings`` is given (None: eager, no-op)."""
    if settings is None:
        return None
    problem = toolchain_problem(device)
    if problem:
        raise WorkloadError(*problem, key="compile")
    return CompiledWorkload(workload, settings, device)


def _timed_pass(workload: Workload, sample, device: str) -> float:
    """One pass, timed as the profiler times a component (nscharacterize/profiler/timing.py); the
    workloads stage does not import the profiler stage, and the rule is two lines."""
    _synchronize(device)
    start = time.perf_counter()
    workload.run(sample)
    _synchronize(device)
    return time.perf_counter() - start


def _synchronize(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def _compile_state() -> dict:
    """Dynamo's cumulative compile seconds and graph count, and Inductor's FX-graph cache counters."""
    from torch._dynamo import utils

    metrics = getattr(utils, "compilation_time_metrics", {}) or {}
    stats, inductor = utils.counters["stats"], utils.counters["inductor"]
    seconds = [t for name, times in metrics.items() if name.rsplit(".", 1)[-1] == _COMPILE_METRIC for t in times]
    return {"seconds": float(sum(seconds)), "graphs": int(stats.get("unique_graphs", 0)),
            "cache_hits": int(inductor.get("fxgraph_cache_hit", 0)),
            "cache_misses": int(inductor.get("fxgraph_cache_miss", 0))}
