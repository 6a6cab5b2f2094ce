"""The run: config -> workloads -> profiler -> events -> taxonomy -> breakdown -> reports.

Orchestration only. Results are written after every workload, so a workload that fails (or a
Ctrl-C) never loses what the others measured; the failure is logged with its traceback and
recorded in the manifest, and the run's exit status says so.
"""
from __future__ import annotations

import logging
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from nscharacterize.profiler import cprofile_backend
from nscharacterize.profiler.ceilings import ceiling_key, measured_ceilings
from nscharacterize.profiler.environment import fingerprint, git_commit, resolve_device
from nscharacterize.profiler.events import empty_events
from nscharacterize.profiler.session import TIMING_COLUMNS, SessionSettings, profile_workload
from nscharacterize.profiler.torch_backend import TorchSettings
from nscharacterize.reports import store
from nscharacterize.reports.render import render, write_results
from nscharacterize.reports.store import RunDir
from nscharacterize.taxonomy.classifier import Taxonomy
from nscharacterize.workloads import registry
from nscharacterize.workloads.compile import compile_workload, toolchain_problem

from .config import Config, ConfigError
from .quiet import stderr_to

log = logging.getLogger("nscharacterize")


@dataclass
class RunOutcome:
    run: RunDir
    breakdown: pd.DataFrame
    failed: list[str]
    notes: list[str] = field(default_factory=list)   # one line each: what could not be measured, and why


def check_device(device: str, file: str | None, key: str) -> str:
    resolved = resolve_device(device)
    if resolved == "cuda" and not torch.cuda.is_available():
        raise ConfigError(file, key, "'cuda' was asked for but no CUDA GPU is visible to torch",
                          "use cpu or auto")
    return resolved


def run(config: Config, config_path: str, *, device: str | None = None, out: str | None = None,
        samples: int | None = None, trace: bool = False, progress=None) -> RunOutcome:
    device = check_device(device or config.device, None if device else config_path,
                          "--device" if device else "device")
    for i, entry in enumerate(config.workloads):
        problem = toolchain_problem(device) if entry.compile else None
        if problem:
            raise ConfigError(config_path, f"workloads[{i}].compile", *problem)
    if config.threads:
        torch.set_num_threads(config.threads)
    taxonomy = Taxonomy(dict(config.taxonomy.rules))
    run_dir = RunDir.create(out or config.output, config.name or Path(config_path).stem)
    handler = _attach_log(run_dir)
    try:
        with stderr_to(run_dir.path / store.LOG, handler):  # torch's and the workloads' warnings
            return _run(config, config_path, run_dir, taxonomy, device, samples, trace, progress)
    finally:
        log.removeHandler(handler)
        handler.close()


def _run(config, config_path, run_dir, taxonomy, device, samples_override, trace, progress) -> RunOutcome:
    resolved = config.resolved()
    run_dir.write_yaml(store.CONFIG, resolved)
    manifest = {
        "schema": store.SCHEMA, "run_id": str(uuid.uuid4()), "name": config.name, "config_file": str(config_path),
        "created": _now(), "finished": None, "status": "running",
        "command": sys.argv, "git_commit": git_commit() or git_commit(str(Path(config_path).resolve().parent)),
        "seed": config.seed, "samples": samples_override or config.samples, "warmup": config.warmup,
        "repeats": config.repeats, "config_hash": config.hash(),
        "fingerprint": fingerprint(device, config.hash()), "workloads": [], "checks": {}, "notes": [],
    }
    run_dir.write_json(store.MANIFEST, manifest)
    events: list[pd.DataFrame] = []   # classified once per workload, as each one finishes
    timings: list[pd.DataFrame] = []
    failed: list[str] = []
    result = _write(run_dir, events, timings, taxonomy, manifest)  # every file exists from the start
    try:
        for entry in config.workloads:
            n = samples_override or entry.samples or config.samples
            settings = SessionSettings(
                samples=n, warmup=config.warmup, repeats=config.repeats, device=device,
                torch=TorchSettings(config.profiler.record_shapes, config.profiler.with_flops,
                                    config.profiler.memory),
                trace_dir=run_dir.path / store.TRACES if (trace or config.profiler.chrome_trace) else None)
            record = {"name": entry.label, "workload": entry.workload, "params": entry.params,
                      "samples": n, "status": "running", "error": None}
            manifest["workloads"].append(record)
            started = time.perf_counter()
            task = progress.start(entry.label, n) if progress else None
            try:
                workload = registry.build(entry.workload, entry.params, config.seed)
                record["components"] = [{"name": c.name, "kind": c.kind, "profiler": c.profiler}
                                        for c in workload.components]
                _note_unmeasured(record, manifest)
                compiled = compile_workload(workload, entry.compile, device)   # None unless `compile` is set
                record["info"] = workload.info
                prof = profile_workload(workload, entry.label, settings,
                                        on_sample=(lambda i: progress.advance(task)) if progress else None)
                if compiled:
                    compiled.finish()
            except KeyboardInterrupt:
                record.update(status="interrupted", error="interrupted by the user")
                raise
            except Exception as exc:  # a failing workload must not take the others down
                record.update(status="error", error=f"{type(exc).__name__}: {exc}".splitlines()[0])
                log.error("workload %s failed:\n%s", entry.label, traceback.format_exc())
                failed.append(entry.label)
            else:
                record["status"] = "ok"
                events.append(taxonomy.classify_events(prof.events))
                timings.append(prof.timings)
                log.info("workload %s: %d samples, %d event rows", entry.label, n, len(prof.events))
            finally:
                record["seconds"] = round(time.perf_counter() - started, 3)
                if progress:
                    progress.finish(task, ok=record["status"] == "ok")
            result = _write(run_dir, events, timings, taxonomy, manifest)
    finally:
        manifest["finished"] = _now()
        if manifest["status"] == "running":
            manifest["status"] = ("ok" if not failed else
                                  "failed" if len(failed) == len(manifest["workloads"]) else "partial")
        if any(w["status"] == "interrupted" for w in manifest["workloads"]):
            manifest["status"] = "interrupted"
        if manifest["status"] != "interrupted":   # a Ctrl-C should not wait for a measurement
            _record_ceilings(manifest, events, device)
        run_dir.write_json(store.MANIFEST, manifest)
        render(run_dir)
    return RunOutcome(run_dir, result, failed, manifest["notes"])


def _note_unmeasured(record: dict, manifest: dict) -> None:
    """Marks cProfile components that cannot be measured by function here (an outer profiler holds
    the hook, see profiler/cprofile_backend.py) and says why, once per workload, in one line."""
    why = cprofile_backend.conflict()
    names = [c["name"] for c in record["components"] if c["profiler"] == "cprofile"]
    if not why or not names:
        return
    for c in record["components"]:
        if c["name"] in names:
            c["unmeasured"] = why
    line = f"{record['name']}: {', '.join(names)} not measured by function (all its time is Other): {why}"
    manifest["notes"].append(line)
    log.warning(line)


def _write(run_dir: RunDir, events: list, timings: list, taxonomy: Taxonomy, manifest: dict) -> pd.DataFrame:
    all_events = pd.concat(events, ignore_index=True) if events else taxonomy.classify_events(empty_events())
    all_timings = pd.concat(timings, ignore_index=True) if timings else pd.DataFrame(columns=TIMING_COLUMNS)
    return write_results(run_dir, all_events, all_timings, manifest)


def _record_ceilings(manifest: dict, events: list, device: str) -> None:
    """The machine's roofline ceilings, for the dtypes the run's ops computed in (cached per machine)."""
    try:
        dtypes = {ceiling_key(d) for ev in events for names in ev["input_dtypes"].astype(str).unique()
                  for d in names.split(",")}
        manifest["ceilings"] = measured_ceilings(manifest["fingerprint"], sorted(d for d in dtypes if d), device)
    except Exception as exc:  # the ceilings complete a run; they must not fail it
        log.warning("could not measure the machine's ceilings: %s", exc)


def _attach_log(run_dir: RunDir) -> logging.Handler:
    handler = logging.FileHandler(run_dir.path / store.LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
