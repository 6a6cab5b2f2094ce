"""``nscharacterize import-trace``: any torch.profiler Chrome trace into a normal run directory.

Traces from a user's own script, TensorBoard's profiler plugin or this tool's ``--trace`` go
through the same reader, timeline walk, taxonomy and attribution as a live run, so ``report``,
``compare`` and the figures work on them. A trace has no unprofiled timing, so the wall time W of
an imported call is its traced span (first start to last end of host and device activity), and
``profiled_wall_s`` = ``wall_s`` (overhead 1.0). For a GPU trace the manifest's roofline
``ceilings`` are the datasheet peaks of the GPU named in the trace's deviceProperties
(nscharacterize/profiler/ceilings.py): that device is not present to be measured.

Names: a file named like this tool's traces, ``WORKLOAD.COMPONENT.SAMPLE.json[.gz]``, keeps its
workload, component and sample; any other file is workload ``imported``, component = file stem.
"""
from __future__ import annotations

import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from nscharacterize.core.errors import UserError
from nscharacterize.profiler.ceilings import datasheet_ceilings
from nscharacterize.profiler.chrome_trace import TraceError, load
from nscharacterize.profiler.events import events_frame, tagged
from nscharacterize.profiler.session import TIMING_COLUMNS
from nscharacterize.profiler.trace_events import peak_added_bytes, rows
from nscharacterize.rundir import store
from nscharacterize.reports.render import render, write_results
from nscharacterize.rundir.store import RunDir
from nscharacterize.taxonomy.classifier import Taxonomy

_OWN_NAME = re.compile(r"(?P<workload>[^.]+)\.(?P<component>[^.]+)\.(?P<sample>\d+)\.json(\.gz)?")
KIND = "imported"


class TraceImportError(UserError):
    """A trace file that cannot be imported."""


def import_traces(paths: list[str], out: str = "runs", name: str = "import") -> RunDir:
    parsed = []
    for i, path in enumerate(paths):
        if not Path(path).is_file():
            raise TraceImportError(path, "", "no such file", "give the path of a .json or .json.gz trace")
        try:
            trace = load(path)
        except TraceError as exc:
            raise TraceImportError(path, "", str(exc), "export it with torch.profiler (export_chrome_trace)") from None
        if trace.host.empty and trace.device.empty:
            raise TraceImportError(path, "traceEvents", "no host ops and no device activity",
                                   "is it a torch.profiler trace?")
        parsed.append((path, trace, _names(Path(path), i)))

    run = RunDir.create(out, name)
    frames, timings, devices = [], [], set()
    for _path, trace, (workload, component, sample) in parsed:
        device = "cuda" if len(trace.device) else "cpu"
        devices.add(device)
        table, facts = rows(trace, device)
        frames.append(tagged(table, workload=workload, component=component, kind=KIND, sample=sample))
        span = facts.span_s
        timings.append({"workload": workload, "component": component, "kind": KIND, "profiler": "torch",
                        "device": device, "sample": sample, "wall_s": span, "wall_min_s": span,
                        "wall_max_s": span, "repeats": 0, "profiled_wall_s": span, "overhead": 1.0,
                        # no memory records (profile_memory off): not measured, not 0 B
                        "peak_mem_bytes": float("nan") if trace.memory.empty else peak_added_bytes(trace, device),
                        "resident_mem_bytes": float("nan"),
                        "kernel_launches": facts.kernel_launches, "median_kernel_us": facts.median_kernel_us})
    events = Taxonomy().classify_events(events_frame(frames))
    timing = pd.DataFrame(timings, columns=TIMING_COLUMNS)
    device = "cuda" if "cuda" in devices else "cpu"
    meta = parsed[0][1].metadata
    # The machine that recorded the trace, as far as the trace says; not the importing machine.
    fp: dict[str, Any] = {"device": device, "device_name": _device_name(parsed), "imported": True,
          "cuda_runtime": meta.get("cuda_runtime_version"), "cuda_driver": meta.get("cuda_driver_version"),
          "torch": None, "threads": None, "config_hash": None}
    workloads: dict[str, dict] = {}
    for _path, _trace, (workload, component, _sample) in parsed:
        rec = workloads.setdefault(workload, {"name": workload, "workload": "imported-trace", "params": {},
                                              "samples": 0, "status": "ok", "error": None, "components": []})
        if component not in [c["name"] for c in rec["components"]]:
            rec["components"].append({"name": component, "kind": KIND, "profiler": "torch"})
        rec["samples"] += 1
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest = {"schema": store.SCHEMA, "name": name, "config_file": None, "created": now, "finished": now,
                "status": "ok", "command": sys.argv, "git_commit": None, "seed": None,
                "samples": max(w["samples"] for w in workloads.values()), "warmup": 0, "repeats": 0,
                "config_hash": None, "fingerprint": fp, "workloads": list(workloads.values()), "checks": {},
                "imported_traces": [str(Path(p).resolve()) for p, _t, _n in parsed]}
    # The roofline's ceilings: the recording GPU is not here to measure, so its datasheet peaks
    # (None where the table does not know the GPU: the roofline rows then have no bound).
    ceilings = datasheet_ceilings(fp["device_name"]) if device == "cuda" and fp["device_name"] else None
    if ceilings:
        manifest["ceilings"] = ceilings
    run.write_yaml(store.CONFIG, {"name": name, "imported_traces": manifest["imported_traces"]})
    write_results(run, events, timing, manifest)
    render(run)
    return run


def _names(path: Path, index: int) -> tuple[str, str, int]:
    m = _OWN_NAME.fullmatch(path.name)
    if m:
        return m["workload"], m["component"], int(m["sample"])
    stem = path.name.removesuffix(".gz").removesuffix(".json")
    return "imported", stem or f"trace{index}", 0


def _device_name(parsed) -> str | None:
    for _p, trace, _n in parsed:
        props = trace.metadata.get("deviceProperties") or []
        if props and isinstance(props[0], dict) and props[0].get("name"):
            return str(props[0]["name"])
    return None
