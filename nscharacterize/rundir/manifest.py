"""manifest.json: the typed model every writer builds and every reader checks.

A run's manifest is written by five writers (a run, ``import-trace``, an A/B merge, the recovery
of a killed run, and each sweep point, which is a run), all through ``RunDir.write_manifest``,
which writes a ``Manifest``: each writer builds the model (a run builds it once and updates its
fields as it goes; an assignment checks just that field, so the write after every sample costs
a dump, not a validation), so a field has one name and one type wherever it comes from, and a
manifest a reader would refuse is never written. Written with ``exclude_unset``: a field a writer
never set is not written, one it set to None is written as null. Reading checks the same model; a
field it does not know is kept (``extra="allow"``), so a newer writer's manifest still opens.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nscharacterize.core.errors import key_path

from .errors import RunDirError

SCHEMA = 1

# Run and workload statuses. ``killed`` is never written by the run itself: it is what a
# ``running`` manifest means once its process is gone (``store.effective_status``).
RUN_STATUSES = ("running", "ok", "partial", "failed", "interrupted", "killed")
WORKLOAD_STATUSES = ("running", "ok", "error", "interrupted", "not_run", "killed")


def config_hash(resolved: dict) -> str:
    """The identity of a resolved config: what the manifest records and config.yaml must match."""
    return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:16]


class Fingerprint(TypedDict, total=False):
    """manifest.json's ``fingerprint``: what the run's numbers depend on besides the code measured.
    Written by profiler/environment.py (a measured run) and import_trace.py (an imported trace,
    which knows only what the trace recorded: None elsewhere); pipeline.py adds ``rules`` to a
    measured run's, and results.py's ``reclassify`` replaces it. Read by the gate (``compare.fingerprint_keys`` must match, the others warn), the
    roofline's ceiling cache (profiler/ceilings.py ``MACHINE_FIELDS``) and the reports. The one
    list of its keys: a writer's literal is type-checked against it, a user's key is checked
    against ``FINGERPRINT_KEYS``."""
    nscharacterize: str          # this tool's version (core/version.py)
    python: str
    torch: str | None            # None: an imported trace (the recording torch is unknown)
    torchvision: str | None
    numpy: str | None
    opennmt: str | None
    platform: str
    cpu_model: str | None
    cpu_count: int | None
    threads: int | None          # torch's intra-op threads
    device: str                  # cpu or cuda (every GPU torch drives, ROCm's and Intel's too)
    device_name: str | None      # the GPU's name; an import: the recording GPUs joined with " + "
    device_names: list[str]      # an import from several machines: each GPU (no single roofline)
    accelerator: str             # an import: whose GPU wrote the device events (cuda, rocm, xpu)
    cuda: str | None             # torch.version.cuda
    cudnn: int | None
    driver: str | None           # nvidia-smi's driver version
    cuda_runtime: Any            # an import: the trace's own CUDA runtime and driver versions
    cuda_driver: Any
    hip_runtime: Any             # an import of a ROCm trace: its HIP runtime and driver versions
    hip_driver: Any
    imported: bool               # the run is an import of traces (import-trace)
    config_hash: str | None      # the resolved config's identity (None: an import)
    rules: str                   # Taxonomy.digest: 12 hex digits of the rules that classified the run


FINGERPRINT_KEYS = frozenset(Fingerprint.__annotations__)


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, validate_assignment=True, populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        """What is written: the fields a writer set (None included), by their file names."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class WorkloadRecord(_Model):
    name: str
    status: Literal[WORKLOAD_STATUSES]  # type: ignore[valid-type]
    workload: str
    error: str | None = None
    samples: int
    params: dict = Field(default_factory=dict)
    samples_done: int | None = None
    seconds: float | int | None = None
    components: list[dict] | None = None   # name, kind, profiler (and ``unmeasured``: why not)
    info: Any = None                       # what the workload says about itself (compile facts), as JSON
    machine: dict | None = None        # what the machine did during this workload (profiler/machine_noise.py)


class Manifest(_Model):
    """manifest.json. The first fields are what a reader may rely on; the rest say where the run
    came from."""

    schema_: Literal[SCHEMA] = Field(alias="schema")  # type: ignore[valid-type]
    fingerprint: dict                  # first: what the gate relies on is what a damaged manifest names. Its
    # keys are ``Fingerprint``'s; kept a plain mapping here so that a newer writer's keys survive a read
    workloads: list[WorkloadRecord]
    name: str
    status: Literal[RUN_STATUSES]  # type: ignore[valid-type]
    created: str
    finished: str | None = None
    seed: int | None = None            # None: an imported trace (no seed, no config)
    samples: int
    warmup: int
    repeats: int
    config_hash: str | None = None
    git_commit: str | None = None
    command: list[str] | None = None   # the command line that made the run
    run_id: str | None = None          # a UUID per run: the gate's identity of a run (older runs lack it)
    checks: dict
    pid: int | None = None             # the writer's process (store.process_identity)
    host: str | None = None
    pid_started: str | None = None
    # what the machine was doing during the run: load, other processes' CPU time, frequency, the
    # spread of its own repeats (profiler/machine_noise.py); the gate's noise evidence
    machine: dict | None = None
    config_file: str | None = None
    updated: str | None = None
    error: str | None = None           # why the run stopped (interrupted, failed, killed)
    ceilings: dict | None = None       # the machine's roofline ceilings (profiler/ceilings.py)
    compensation: dict | None = None   # the profiler's cost per event and the mode (profiler/calibration.py)
    imported_traces: list[str] | None = None   # import-trace: the trace files, resolved
    notes: list[str] | None = None     # what the run says about itself (unmeasured components, failed passes)
    ab: dict | None = None             # an A/B merge: label, rounds, their run_ids and creation times


def parse_manifest(path: Path, data: Any) -> Manifest:
    """``data`` (parsed JSON) checked against ``Manifest``; otherwise one ``RunDirError`` line."""
    if not isinstance(data, dict):
        raise RunDirError(path, "(top level)", f"a JSON {type(data).__name__}, not an object",
                          "the manifest is damaged; re-run or re-copy the run")
    if data.get("schema") != SCHEMA:
        raise RunDirError(path, "schema", f"not an nscharacterize manifest of schema {SCHEMA} "
                          f"(got {data.get('schema')!r})", "re-run it with this version")
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = key_path(err["loc"]) or "(top level)"
        got = err.get("input")
        got = f" (got {got!r})" if not isinstance(got, (dict, list)) else ""
        what = "required field is missing" if err["type"] == "missing" else f"{err['msg'].lower()}{got}"
        raise RunDirError(path, key, what, "the manifest is damaged; re-run or re-copy the run") from None


def mark_killed(manifest: Manifest, config: dict) -> Manifest:
    """The manifest of a run whose process died: the run and its unfinished workload become
    ``killed``, and the config's workloads it never reached ``not_run``."""
    out = manifest.model_copy(deep=True)
    out.status = "killed"
    out.error = f"the process (pid {manifest.pid}) was killed"
    for w in out.workloads:
        if w.status == "running":
            w.status = "killed"
            w.error = w.error or "the process was killed"
    seen = {w.name for w in out.workloads}
    for entry in config.get("workloads") or []:
        label = entry.get("name") or entry.get("workload") if isinstance(entry, dict) else None
        if isinstance(label, str) and label not in seen:
            out.workloads.append(not_run(label, str(entry.get("workload")), entry.get("params") or {},
                                         "the run was killed before it started"))
    return out


def not_run(name: str, workload: str, params: Any, why: str) -> WorkloadRecord:
    """The record of a workload a run never started."""
    return WorkloadRecord(name=name, workload=workload, params=params if isinstance(params, dict) else {},
                          samples=0, samples_done=0, status="not_run", error=why)
