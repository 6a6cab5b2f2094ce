"""``nscharacterize import-trace``: any torch.profiler Chrome trace into a normal run directory.

Traces from a user's own script, TensorBoard's profiler plugin, another project's test data or
this tool's ``--trace`` go through the same reader, timeline walk, taxonomy and attribution as a
live run, so ``report``, ``compare``, the figures and the gate work on them. A trace has no
unprofiled timing, so the wall time W of an imported sample is traced time (``profiled_wall_s`` =
``wall_s``, overhead 1.0). For a GPU trace the manifest's roofline ``ceilings`` are the datasheet
peaks of the GPU named in the trace's deviceProperties (nscharacterize/profiler/ceilings.py).

Samples: a trace with ``ProfilerStep#N`` ranges gives one sample per step, numbered N, after the
first ``warmup_steps`` (nscharacterize/profiler/trace_steps.py); otherwise the whole trace is one
sample, its wall time the traced span.

Names: a file named like this tool's traces, ``WORKLOAD.COMPONENT.SAMPLE.json[.gz]``, keeps its
workload, component and sample; any other file is workload ``imported``, component = file stem
less what changes from run to run (``_stem``: tensorboard_trace_handler's time and process id).
A rank of a distributed job (the trace's ``distributedInfo``: world size above 1, or several ranks
imported together) is a workload of its own, ``rank<N>`` (``<folder>-rank<N>`` when the ranks come
from several folders, i.e. several jobs): a workload's components run one after another, and
concurrent ranks must never be added up as if they did. Names that would still collide get
their folder's name in front where the files lie in different folders (per-node ``rank0.json``,
two runs' ``trace.json``), else a number (a profiler's cycles in one folder).

Nothing is dropped silently: what the tool cannot read (an accelerator it does not model, a trace
without kernel events, device work with no launching op) is a note in the manifest
(``imported[].notes``) and in table.md.
"""
from __future__ import annotations

import functools
import re
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from nscharacterize.profiler.timeline import overlap_length, union_length
from nscharacterize.core.errors import UserError
from nscharacterize.core.version import tool_version
from nscharacterize.profiler.ceilings import GENERIC_GPU_NAMES, datasheet_ceilings, name_from_properties
from nscharacterize.profiler.chrome_trace import NotATrace, Trace, TraceError, name_mask, tables
from nscharacterize.profiler.gc_pause import release_freed_memory
from nscharacterize.profiler.events import COMPILED_GRAPH_RANGE, INDUCTOR_CPU_KERNEL, TIMING_COLUMNS, events_frame, tagged
from nscharacterize.profiler.trace_events import peak_added_bytes, rows
from nscharacterize.profiler.trace_prefetch import Prefetcher, prefetcher, trace_files
from nscharacterize.profiler.trace_steps import DEFAULT_WARMUP, split_steps
from nscharacterize.reports.run_report import prepare as prepare_render
from nscharacterize.reports.run_report import render
from nscharacterize.rundir import store
from nscharacterize.rundir.manifest import SCHEMA, Fingerprint, Manifest, WorkloadRecord
from nscharacterize.rundir.store import RunDir, process_identity
from nscharacterize.taxonomy.classifier import Taxonomy

from .results import save_results

_OWN_NAME = re.compile(r"(?P<workload>[^.]+)\.(?P<component>[^.]+)\.(?P<sample>\d+)\.json(\.gz)?")
# Runtime calls of Intel GPUs as Kineto's XPU plugin names them: Unified Runtime (urEnqueue...),
# Level Zero (zeCommandList...), the older SYCL plugin interface (piEnqueue...).
_XPU_RUNTIME = re.compile(r"(?:ur|ze|pi)[A-Z]\w*")
# Run-specific parts of a trace file's name (_stem): a time (seconds, ms or ns since the epoch), a
# process id, a date as Mon_DD_HH_MM_SS; and tensorboard_trace_handler's default worker, HOST_PID.
_RUN_PART = re.compile(r"\d+|[A-Z][a-z]{2}_\d{1,2}_\d{2}_\d{2}_\d{2}")
_DEFAULT_WORKER = re.compile(r"(?P<host>.+)_(?P<pid>\d+)")
KIND = "imported"
# timings.csv's extra columns for imported traces: the rank, world size and job of a distributed
# trace (-1, -1 and "" when none), communication time and how much of it overlapped compute.
RANK_COLUMNS = ["rank", "world_size", "job", "comm_s", "comm_overlap_s"]


class TraceImportError(UserError):
    """A trace file that cannot be imported."""


class NotATraceError(TraceImportError):
    """A JSON file that is recognisably no trace (an execution trace beside one, a config: the
    decoder's ``NotATrace``), named as a trace; one found in a folder is left out instead
    (``import_traces``)."""


class NothingRecordedError(TraceImportError):
    """A file that reads as a Chrome trace but holds no host op and no device activity: a
    torch.profiler trace whose window recorded nothing (tensorboard_trace_handler writes one when the
    profiler stops before its active steps, beside the job's other files), or another tool's JSON
    array. Named on its own it is refused; one found in a folder is left out and said, as
    ``NotATraceError`` is, so that the folder's real traces still import."""


@dataclass
class _Input:
    """One trace file: what the run directory needs of it once its interval tables are gone."""
    path: Path
    metadata: dict = field(default_factory=dict)
    workload: str = "imported"
    component: str = ""
    sample: int = 0
    rank: int = -1
    world_size: int = -1
    job: str = ""
    device: str = "cpu"
    accelerator: str = ""                       # cuda, rocm or xpu: whose GPU wrote the device events
    events: pd.DataFrame | None = None          # its event rows, summed per key (workload, component: set last)
    timings: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def import_traces(paths: list[str], out: str = "runs", name: str = "import",
                  warmup_steps: int = DEFAULT_WARMUP, png: bool = False,
                  rules: Mapping[str, Sequence[str | Path]] | None = None) -> RunDir:
    given = [str(p) for p in paths]
    paths = trace_files(given)
    # The user's rule files, read (and a bad one refused) before any trace; kept in config.yaml with
    # their absolute paths, as the traces are, so that `report --reclassify` finds them from anywhere.
    files_of = {ns: [str(Path(f).absolute()) for f in files] for ns, files in (rules or {}).items() if files}
    taxonomy = Taxonomy(files_of)
    # One trace at a time: its interval tables are dropped once its rows are summed, so the
    # memory peak is that of the largest trace (and the next one, decoding in a worker meanwhile:
    # nscharacterize/profiler/trace_prefetch.py), not of all of them. A bad file stops the import
    # before the run directory is created; in a folder, a JSON file that is recognisably no trace
    # (HTA's critical path wants the execution trace next to the Kineto trace; a script's config
    # or metrics) is left out and said.
    inputs: list[_Input] = []
    left_out: list[tuple[Path, str]] = []
    with prefetcher(paths) as files:
        prepare_to_write()
        for i, p in enumerate(paths):
            try:
                inputs.append(_read(Path(p), i, taxonomy, warmup_steps, files))
            except (NotATraceError, NothingRecordedError) as exc:
                if p in given:   # named on its own: the user meant it as a trace
                    raise
                left_out.append((Path(p), exc.what.removeprefix("not a Chrome trace: ")))
    if not inputs:
        folders = sorted({str(p.parent) for p, _ in left_out})
        raise TraceImportError(", ".join(folders), "", "no torch.profiler trace with events in it, only " +
                               "; ".join(f"{p.name}: {what}" for p, what in left_out),
                               "give the folder of the Kineto traces (export_chrome_trace, tensorboard_trace_handler)")
    for path, what in left_out:   # said beside the traces of its folder
        mine = next((inp for inp in inputs if inp.path.parent == path.parent), inputs[0])
        mine.notes.append(f"{path.name}, beside it in its folder, left out: {what}")
    _names(inputs)
    run = RunDir.create(out, name)
    frames = [inp.events.assign(workload=inp.workload, component=inp.component) for inp in inputs
              if inp.events is not None]
    timings = [dict(t, workload=inp.workload, component=inp.component, rank=inp.rank, world_size=inp.world_size,
                    job=inp.job) for inp in inputs for t in inp.timings]
    devices = {inp.device for inp in inputs}
    events = taxonomy.classify_events(events_frame(frames))
    timing = pd.DataFrame(timings, columns=TIMING_COLUMNS + RANK_COLUMNS)
    device = "cuda" if "cuda" in devices else "cpu"
    meta = inputs[0].metadata
    # The machine that recorded the trace, as far as the trace says; not the importing machine.
    gpus = _device_names(inputs)
    fp: Fingerprint = {"nscharacterize": tool_version(), "device": device,
                       "device_name": " + ".join(gpus)[:200] or None, "imported": True,
                       "cuda_runtime": meta.get("cuda_runtime_version"),
                       "cuda_driver": meta.get("cuda_driver_version"),
                       "torch": None, "threads": None, "config_hash": None, "rules": taxonomy.digest}
    if len(gpus) > 1:   # traces from several machines: the report says one roofline cannot hold them
        fp["device_names"] = gpus
    accelerators = sorted({inp.accelerator for inp in inputs if inp.accelerator})
    if accelerators:    # "cuda" is torch's name for every GPU's device events, an Intel GPU's too: the report says whose
        fp["accelerator"] = " + ".join(accelerators)
    if meta.get("hip_runtime_version") is not None:   # a ROCm trace
        fp["hip_runtime"], fp["hip_driver"] = meta.get("hip_runtime_version"), meta.get("hip_driver_version")
    workloads: dict[str, WorkloadRecord] = {}
    for inp in inputs:
        rec = workloads.setdefault(inp.workload, WorkloadRecord(name=inp.workload, workload="imported-trace",
                                                                params={}, samples=0, status="ok", error=None,
                                                                components=[]))
        if inp.component not in [c["name"] for c in rec.components or []]:
            rec.components = [*(rec.components or []), {"name": inp.component, "kind": KIND, "profiler": "torch"}]
        rec.samples = max(rec.samples, len(inp.timings))
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    traces = [str(inp.path.resolve()) for inp in inputs]
    # The roofline's ceilings: the recording GPU is not here to measure, so its datasheet peaks
    # (None where the table does not know the GPU, or where the traces come from several GPUs: the
    # roofline rows then have no bound).
    ceilings = datasheet_ceilings(gpus[0], _memory_bytes(inputs)) if device == "cuda" and len(gpus) == 1 else None
    manifest = Manifest(
        schema_=SCHEMA, run_id=str(uuid.uuid4()), name=name, config_file=None, created=now, finished=now,
        status="ok", **process_identity(), command=list(sys.argv), git_commit=None, seed=None,
        samples=max(w.samples for w in workloads.values()), warmup=0, repeats=0, config_hash=None,
        fingerprint=dict(fp), workloads=list(workloads.values()), checks={}, imported_traces=traces,
        warmup_steps=warmup_steps,
        imported=[{"file": str(inp.path.resolve()), "workload": inp.workload, "component": inp.component,
                   "rank": None if inp.rank < 0 else inp.rank,
                   "world_size": None if inp.world_size < 0 else inp.world_size,
                   "job": inp.job or None, "notes": inp.notes} for inp in inputs])
    if ceilings:
        manifest.ceilings = ceilings
    run.write_yaml(store.CONFIG, {"name": name, "imported_traces": traces, "warmup_steps": warmup_steps,
                                  **({"taxonomy": {"rules": files_of}} if files_of else {}),
                                  **({"report": {"png": True}} if png else {})})
    render(run, save_results(run, events, timing, manifest).views, events, png=png)
    return run


@functools.cache
def prepare_to_write() -> None:
    """What the end of the command imports where it is used (the parquet writer, the page's modules
    and libraries), done while the first file decodes in its worker: idle time here, on the
    critical path there (30 ms of a 1.3 s import of a 51 MiB trace). Done once per process (a
    second call does nothing); the CLI calls it before ``import_traces`` to freeze what it
    imported (cli.cmd_import_trace). The heap that reading the page's libraries freed (plotly.js as
    bytes before it is text: 4-5 MB) is handed back: the command holds it while the worker holds
    the decoded trace, the peak of the two."""
    import pyarrow.parquet  # noqa: F401

    prepare_render()
    release_freed_memory()


def _read(path: Path, index: int, taxonomy: Taxonomy, warmup_steps: int, files: Prefetcher) -> _Input:
    """Reads one trace (file ``index`` of ``files``) into its summed event rows, per-sample timings and notes."""
    trace = _load(str(path), files, index)
    inp = _Input(path, trace.metadata)
    _own_name(inp, index, trace)
    inp.device = device = "cuda" if len(trace.device) else "cpu"
    inp.accelerator = _accelerator(trace) if device == "cuda" else ""
    inp.notes += _unread_notes(trace)
    steps = split_steps(trace, warmup_steps)
    windows: list[tuple[float, float] | None]
    if steps is not None:
        table, _facts = rows(trace, device, host_sample=steps.host_sample, device_sample=steps.device_sample,
                             python_sample=steps.python_sample, with_python=True)
        samples, walls = steps.numbers, steps.walls_s.tolist()
        windows = [(float(a), float(b)) for a, b in zip(steps.starts, steps.ends)]
        device_sample = steps.device_sample
        inp.notes.append(_steps_note(steps, warmup_steps))
    else:
        table, facts = rows(trace, device, with_python=True)
        table["sample"] = inp.sample
        samples, walls, windows = [inp.sample], [facts.span_s], [None]
        device_sample = np.full(len(trace.device), inp.sample, dtype=np.int64)
    inp.events = events_frame([tagged(table, workload=f"#{index}", component="", kind=KIND)])
    del table
    comm = _is_communication(trace, taxonomy)
    inp.timings = [_timing(trace, device, sample, float(wall), window, device_sample == sample, comm)
                   for sample, wall, window in zip(samples, walls, windows)]
    return inp


def _load(path: str, files: Prefetcher, index: int) -> Trace:
    if not Path(path).is_file():
        raise TraceImportError(path, "", "no such file", "give the path of a .json or .json.gz trace")
    try:
        trace = tables(files.take(index))
    except NotATrace as exc:
        raise NotATraceError(path, "", str(exc), "give a torch.profiler trace instead (export_chrome_trace)") from None
    except TraceError as exc:
        raise TraceImportError(path, "", str(exc), "export it with torch.profiler (export_chrome_trace)") from None
    if trace.host.empty and trace.device.empty:
        unread = ", ".join(f"{n} {c}" for c, n in sorted(trace.unread.items(), key=lambda x: -x[1])[:3])
        if not unread and trace.metadata.get("schemaVersion") is not None:   # Kineto's own file, empty
            raise NothingRecordedError(path, "traceEvents", "a torch.profiler trace that recorded no ops and no device "
                                       "activity (its profiling window was empty)",
                                       "profile at least one step while the profiler records (prof.step() in the "
                                       "loop, within schedule's wait + warmup + active steps) and export again")
        raise NothingRecordedError(path, "traceEvents", "no host ops and no device activity" +
                                   (f" (only {unread} events, which this tool does not read)" if unread else ""),
                                   "is it a torch.profiler trace?")
    return trace


def _timing(trace: Trace, device: str, sample: int, wall: float, window, on_device: np.ndarray,
            comm: np.ndarray) -> dict:
    """One row of timings.csv: a sample's wall time and device facts, with its rank and its
    communication time (union of communication kernels) and how much of it ran while a compute
    kernel ran too (HTA's comm-comp overlap)."""
    dev = trace.device
    kernel = (dev["kind"] == "kernel").to_numpy() & on_device if len(dev) else np.zeros(0, dtype=bool)
    durations = dev["dur"].to_numpy()[kernel] if len(dev) else np.zeros(0)
    c, k = kernel & comm, kernel & ~comm
    ts, end = (dev["ts"].to_numpy(), dev["end"].to_numpy()) if len(dev) else (np.zeros(0), np.zeros(0))
    comm_us = union_length(ts[c], end[c])
    return {"kind": KIND, "profiler": "torch",
            "device": device, "sample": sample, "wall_s": wall, "wall_min_s": wall, "wall_max_s": wall,
            "repeats": 0, "profiled_wall_s": wall, "overhead": 1.0,
            # no memory records (profile_memory off): not measured, not 0 B
            "peak_mem_bytes": float("nan") if trace.memory.empty else peak_added_bytes(trace, device, window),
            "resident_mem_bytes": float("nan"),
            "kernel_launches": int(kernel.sum()),
            "median_kernel_us": float(np.median(durations)) if len(durations) else float("nan"),
            "comm_s": comm_us / 1e6,
            "comm_overlap_s": overlap_length(ts[c], end[c], ts[k], end[k]) / 1e6}


def _is_communication(trace: Trace, taxonomy: Taxonomy) -> np.ndarray:
    """Per device event: is it a communication kernel (by its own name; communication kernel rules
    override the launching op, so this is the category it gets)? Matched once per distinct name."""
    dev = trace.device
    if dev.empty:
        return np.zeros(0, dtype=bool)
    codes, names = pd.factorize(dev["name"])
    comm = np.array([(r := taxonomy.first_match("kernels", n)) is not None and r.category == "communication"
                     for n in names], dtype=bool)
    return comm[codes]


def _names(inputs: list[_Input]) -> None:
    """Workload, component, rank and job of every input, distinct and readable."""
    for inp in inputs:
        dist = inp.metadata.get("distributedInfo")
        dist = dist if isinstance(dist, dict) else {}
        inp.rank, inp.world_size = _int(dist.get("rank")), _int(dist.get("world_size"))
    # A rank of a job: its trace says the world is larger than one, or (older traces write only the
    # rank) another trace of the same folder is a different rank. A lone rank-0 trace is no job.
    ranked = [inp for inp in inputs if inp.rank >= 0 and not _OWN_NAME.fullmatch(inp.path.name)]
    ranks_in: dict[Path, set[int]] = {}
    for inp in ranked:
        ranks_in.setdefault(inp.path.resolve().parent, set()).add(inp.rank)
    ranked = [inp for inp in ranked if inp.world_size > 1 or len(ranks_in[inp.path.resolve().parent]) > 1]
    folders = {inp.path.resolve().parent for inp in ranked}
    for inp in ranked:
        inp.job = inp.path.resolve().parent.name if len(folders) > 1 else "job"
        inp.workload = f"{inp.job}-rank{inp.rank}" if len(folders) > 1 else f"rank{inp.rank}"
    _distinct(inputs, lambda inp: f"{inp.path.resolve().parent.name}-{inp.component}")
    _distinct(inputs, None)


def _own_name(inp: _Input, index: int, trace: Trace) -> None:
    """Workload, component and sample from a file named like this tool's traces, else
    ``imported`` and the file's stem (``_stem``)."""
    m = _OWN_NAME.fullmatch(inp.path.name)
    if m:
        inp.workload, inp.component, inp.sample = m["workload"], m["component"], int(m["sample"])
    else:
        inp.component = _stem(inp.path.name, trace) or f"trace{index}"


def _stem(file_name: str, trace: Trace) -> str:
    """A trace's name without what changes from run to run, so that the same script profiled
    twice gives the same component and ``compare`` pairs the two runs' rows.

    torch's own writers put the run in the name: ``tensorboard_trace_handler`` writes
    ``WORKER.TIME.pt.trace.json[.gz]``, its WORKER by default ``HOST_PID``; Kineto's on-demand
    traces write ``WORKER.Mon_DD_HH_MM_SS.PID.pt.trace.json``. Of such a name the component is
    WORKER, or ``trace`` where WORKER is the default (its PID the trace's own process: the
    metadata's ``host_name``, or the main thread's id, which Linux makes the PID). Any other
    name is kept whole, less ``.json[.gz]``."""
    stem = file_name.removesuffix(".gz").removesuffix(".json")
    if not stem.endswith(".pt.trace") or stem == ".pt.trace":
        return stem
    parts = stem.removesuffix(".pt.trace").split(".")
    while len(parts) > 1 and _RUN_PART.fullmatch(parts[-1]):
        parts.pop()
    worker = ".".join(parts)
    default = _DEFAULT_WORKER.fullmatch(worker)
    if default:
        host = trace.metadata.get("host_name")
        if host == default["host"] or (trace.host["tid"] == int(default["pid"])).any():
            return "trace"
    return worker


def _distinct(inputs: list[_Input], rename) -> None:
    """Renames the components of inputs whose (workload, component, sample) collide: with
    ``rename(input)`` where the colliding files lie in different folders (the folder tells them
    apart), or else by numbering the second and later ones (the files of one folder, in the
    order of their names: a profiler's cycles, by their times)."""
    key = lambda inp: (inp.workload, inp.component, inp.sample)  # noqa: E731
    groups: dict[tuple, list[_Input]] = {}
    for inp in inputs:
        groups.setdefault(key(inp), []).append(inp)
    for group in groups.values():
        if len(group) < 2:
            continue
        if rename is not None:
            if len({inp.path.resolve().parent for inp in group}) > 1:
                for inp in group:
                    inp.component = rename(inp)
        else:   # a number no other input's component has (a file may be named x-2 already)
            taken = {key(inp) for inp in inputs}
            number = 1
            for inp in group[1:]:
                number += 1
                while (inp.workload, f"{inp.component}-{number}", inp.sample) in taken:
                    number += 1
                inp.component = f"{inp.component}-{number}"
                taken.add(key(inp))


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _steps_note(steps, warmup: int) -> str:
    kept = f"steps {steps.numbers[0]}-{steps.numbers[-1]}" if len(steps.numbers) > 1 else f"step {steps.numbers[0]}"
    empty = f" ({steps.empty} more held no op or kernel and were left out)" if steps.empty else ""
    if steps.skipped < min(warmup, steps.found):
        return (f"{steps.found} ProfilerStep range(s){empty}: too few to leave {warmup} out as warm-up; "
                f"{kept} kept as {len(steps.numbers)} sample(s)")
    return (f"{steps.found} ProfilerStep ranges{empty}: the first {steps.skipped} left out as warm-up "
            f"(--warmup-steps), {kept} kept as {len(steps.numbers)} sample(s)")


def _unread_notes(trace: Trace) -> list[str]:
    """What the trace holds that the tool does not attribute, in words."""
    notes = []
    if trace.repairs:
        notes.append(f"not valid JSON; read after mending {', '.join(trace.repairs)}")
    unread = trace.unread or {}
    mtia = {c: n for c, n in unread.items() if c.lower().startswith("mtia")}
    if mtia:
        notes.append(f"MTIA accelerator activity ({', '.join(f'{n} {c}' for c, n in mtia.items())} events) is not "
                     "modelled: only its host side is attributed, as a CPU trace, and no device view is shown")
    for c, n in unread.items():
        if c not in mtia:
            notes.append(f"{n} events of category {c!r} are not read")
    ops = trace.host[trace.host["source"] == "op"]
    if len(ops) and not ops["input_dims"].notna().any():
        notes.append("recorded without record_shapes: no op's input sizes, so the roofline sizes no op (its "
                     "FLOPs and bytes are empty); profile with torch.profiler.profile(record_shapes=True) to "
                     "size them")
    if trace.device.empty and (unnamed := _unnamed_cpu_kernels(trace)):
        notes.append(unnamed)
    if trace.device.empty and not mtia:
        gpu = bool(trace.metadata.get("deviceProperties")) or bool((trace.host["source"] == "runtime").any())
        notes.append("no kernel, memcpy or memset events although the trace comes from a GPU process (no "
                     "device activity recorded: CUPTI disabled, or counters only): only host time is attributed"
                     if gpu else "no device activity: host time only")
    else:
        gpus = np.unique(trace.device["device"].to_numpy())
        if len(gpus) > 1:   # one process driving several GPUs (DataParallel, a model split with device_map)
            shown = ", ".join(map(str, gpus[:8])) + (", ..." if len(gpus) > 8 else "")
            notes.append(f"device events on {len(gpus)} GPUs of one process (devices {shown}): GPU busy is the "
                         "time any of them runs a kernel, and the views do not split them per GPU")
        unlinked = int((trace.device["launcher"] < 0).sum())
        if unlinked:
            notes.append(f"{unlinked} of {len(trace.device)} device events have no launching op in the trace "
                         "(launched before the profiling window, or by a graph replay): classified by their "
                         "kernel names")
    return notes


def _unnamed_cpu_kernels(trace: Trace) -> str | None:
    """Said of a CPU trace of torch.compile'd code recorded without Inductor's kernel ranges: the
    fused C++ kernels are then no event, only the self time of the compiled graph's range (Other by
    rule torch-compile-runtime, as on a GPU, where that self time is the launches' Python). A live
    run turns the ranges on (workloads/compile.py name_cpu_kernels); a trace can only say so."""
    names = trace.host["name"]
    graphs = name_mask(names, COMPILED_GRAPH_RANGE.fullmatch)
    if not graphs.any() or name_mask(names, INDUCTOR_CPU_KERNEL.fullmatch).any():
        return None
    self_us = float(trace.host["self_us"].to_numpy()[graphs].sum())
    return (f"torch.compile graphs ran on the CPU without a profiler range per generated kernel: Inductor's fused "
            f"C++ kernels are in the self time of the '## Call CompiledFxGraph' ranges ({self_us / 1e3:.3g} ms, "
            f"{self_us / max(trace.wall_us, 1e-9):.0%} of the traced time), which is Other; set "
            "TORCHINDUCTOR_CPP_ENABLE_KERNEL_PROFILE=1 (or torch._inductor.config.cpp.enable_kernel_profile = True) "
            "before the model compiles and profile again to name and classify them")


def _accelerator(trace: Trace) -> str:
    """Whose GPU recorded the trace's device events: ``rocm`` (AMD: a HIP runtime version, a gfx
    architecture), ``xpu`` (Intel: the vendor in deviceProperties, or Level Zero / Unified Runtime
    calls), else ``cuda``. torch files them all under its "cuda" device; the report names the one it was."""
    meta = trace.metadata
    first = _first_device(meta)
    if meta.get("hip_runtime_version") is not None or "gcnArchName" in first or "AMD" in str(first.get("name", "")):
        return "rocm"
    runtime = trace.host.loc[trace.host["source"] == "runtime", "name"].unique()
    if "Intel" in str(first.get("vendor", "")) or "Intel" in str(first.get("name", "")) or \
            any(isinstance(n, str) and _XPU_RUNTIME.fullmatch(n) for n in runtime):
        return "xpu"
    return "cuda"


def _memory_bytes(inputs: list[_Input]) -> float | None:
    """The recording GPU's memory, the first trace's ``deviceProperties`` ``totalGlobalMem``: it
    tells a 40 GB part from an 80 GB one where the GPU's name does not (datasheet_ceilings)."""
    props = next((p for inp in inputs if (p := _first_device(inp.metadata))), None)
    try:
        return float(props["totalGlobalMem"]) if props else None
    except (KeyError, TypeError, ValueError):
        return None


def _device_names(inputs: list[_Input]) -> list[str]:
    """The recording GPUs' names, distinct, in the order of the traces: each trace's first
    ``deviceProperties`` entry; where its name is empty or generic ("AMD Radeon Graphics") and its
    properties single out a part (``ceilings.name_from_properties``), that part, with a note. Ranks
    of one job give one name; traces from several machines may give several, and then no one GPU's
    ceilings are used."""
    names: list[str] = []
    for inp in inputs:
        props = _first_device(inp.metadata)
        if not props:
            continue
        given = str(props.get("name") or "").strip()[:200]
        name = name_from_properties(props) if given in GENERIC_GPU_NAMES else None
        if name:
            says = f"names the GPU only {given!r}" if given else "gives no GPU name"
            inp.notes.append(f"deviceProperties {says}: taken as {name} from its properties (gfx "
                             f"{props['computeMajor']}.{props['computeMinor']}, {props['numSms']} compute "
                             f"units, {float(props['totalGlobalMem']) / 2**30:.0f} GiB)")
        name = name or given
        if name and name not in names:
            names.append(name)
    return names


def _first_device(metadata: dict) -> dict:
    """A trace's first ``deviceProperties`` entry (the GPU it recorded), {} where it writes none."""
    props = metadata.get("deviceProperties")
    return props[0] if isinstance(props, list) and props and isinstance(props[0], dict) else {}
