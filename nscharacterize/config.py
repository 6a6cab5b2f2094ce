"""The YAML config schema, and loading that turns every mistake into one line naming file and key."""
from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nscharacterize.core.errors import UserError
from nscharacterize.core.fileio import load_yaml
from nscharacterize.core.validation import describe
from nscharacterize.rundir.manifest import config_hash
from nscharacterize.rundir.store import check_name
from nscharacterize.taxonomy.rules import NAMESPACES
from nscharacterize.workloads import registry
from nscharacterize.workloads.base import WorkloadError
from nscharacterize.workloads.compile import CompileSettings


class ConfigError(UserError):
    """A config the tool cannot use: file, key, what is wrong, what is allowed."""


Namespace = Literal[NAMESPACES]  # type: ignore[valid-type]


# Upper bounds: a typo of a few zeros must be an error, not hours of work or an out-of-memory
# death (samples are built up front by ``make_samples``).
MAX_SAMPLES = 10_000
MAX_REPEATS = 1_000
MAX_WARMUP = 1_000
MAX_THREADS = 1_024
MAX_SEED = 2**32 - 1  # numpy's legacy seeding takes 32 bits; torch takes 64
MAX_POINTS = 1_000    # sweep points: each is a whole run in a process of its own


class _Strict(BaseModel):
    # strict: `samples: true` or `seed: "3"` are errors, not 1 and 3
    model_config = ConfigDict(extra="forbid", strict=True)


def _plain_name(value: str | None) -> str | None:
    if value is None:
        return value
    try:
        return check_name(value)
    except UserError as exc:
        raise ValueError(f"{exc.what}; {exc.fix}") from None


class ProfilerConfig(_Strict):
    record_shapes: bool = Field(True, description="record input shapes and dtypes of every op")
    with_flops: bool = Field(True, description="let torch.profiler estimate FLOPs (matmul and conv only)")
    memory: bool = Field(True, description="record allocations to report peak memory per component")
    chrome_trace: bool = Field(False, description="write a Chrome trace per component and sample under traces/")
    nvtx: bool = Field(False, description="on CUDA, an NVTX range around each component of the timed passes "
                                          "(nsc|WORKLOAD|COMPONENT|sSrR), for Nsight Compute; see "
                                          "docs/guide/metrics.md")
    compensation: Literal["proportional", "per_event"] = Field(
        "proportional", description="how the profiler's own cost is taken out of the shares: proportional (every op "
        "scaled by unprofiled/profiled wall) or per_event (its cost per recorded event, measured once per machine); "
        "docs/measurement.md compares them against ground truth")


class MetricsConfig(_Strict):
    """Beyond time (nscharacterize/profiler/opmetrics.py): one extra pass per sample, off the timed
    path, with every op seen at dispatch level."""

    memory: bool = Field(True, description="bytes allocated per category, peak of intermediates, parameters, "
                                           "inputs and state per component (memory.csv)")
    sparsity: bool = Field(False, description="fraction of zeros in each op's floating outputs and inputs, per "
                                              "category (sparsity.csv); costs a reduction per tensor")
    tolerance: float = Field(1e-6, ge=0, le=1, description="a value within this of zero counts as near-zero")
    counters: bool = Field(False, description="CPU hardware counters (cycles, instructions, cache misses) per "
                                              "category where Linux perf allows; the run says why not otherwise")
    samples: int = Field(1, ge=0, le=100, description="samples measured this way (0: none)")


class ReportConfig(_Strict):
    png: bool = Field(False, description="also write the figures as PNG files (heatmap.png, breakdown.png, "
                      "roofline.png, ...) beside report.html, which draws its own; as `--png`")


class TaxonomyConfig(_Strict):
    rules: dict[Namespace, list[str]] = Field(
        default_factory=dict, description="extra rule files per name space, checked before the built-in rules")


class WorkloadEntry(_Strict):
    workload: str = Field(description="built-in name (see `nscharacterize list`) or 'package.module:factory'")
    name: str | None = Field(None, description="label in tables (default: the workload)")
    params: dict = Field(default_factory=dict, description="parameters of the workload")
    samples: int | None = Field(None, ge=1, le=MAX_SAMPLES, description="override of the run's samples for this workload")
    compile: CompileSettings | None = Field(
        None, description="torch.compile the components' modules: {mode: default|reduce-overhead|max-autotune, "
        "components: [...]}; compile time is reported apart from runtime")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return _plain_name(value)

    @property
    def label(self) -> str:
        return self.name or self.workload


class SweepConfig(_Strict):
    parameters: dict[str, list[Any]] = Field(
        min_length=1, description="workload parameters and their values, e.g. {n: [10, 20, 30]}; each point is a run")
    mode: Literal["grid", "zip"] = Field("grid", description="grid: every combination; zip: the i-th values together")
    x: str | None = Field(None, description="the parameter on the x axis of the scaling fits (default: the first)")
    point_timeout_s: int = Field(6 * 3600, ge=1, le=7 * 24 * 3600,
                                 description="seconds a point may run; one that runs longer is stopped and failed")

    def count(self) -> int:
        """How many points, without making them."""
        lengths = [len(v) for v in self.parameters.values()]
        return min(lengths) if self.mode == "zip" else math.prod(lengths)

    def points(self) -> list[dict]:
        names = list(self.parameters)
        if self.mode == "zip":
            return [dict(zip(names, vals)) for vals in zip(*self.parameters.values())]
        return [dict(zip(names, vals)) for vals in itertools.product(*self.parameters.values())]

    @property
    def x_parameter(self) -> str:
        return self.x or next(iter(self.parameters))


class Config(_Strict):
    name: str | None = Field(None, description="run name (default: the config file's stem)")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of synthetic data and random weights")
    device: Literal["cpu", "cuda", "auto"] = Field("auto", description="where to run; auto = cuda if available")
    samples: int = Field(3, ge=1, le=MAX_SAMPLES, description="profiled samples per workload")
    warmup: int = Field(1, ge=0, le=MAX_WARMUP, description="unprofiled warm-up passes before measuring")
    repeats: int = Field(3, ge=1, le=MAX_REPEATS,
                         description="unprofiled timed passes per sample; their median is the runtime")
    threads: int | None = Field(None, ge=1, le=MAX_THREADS, description="torch intra-op threads (default: torch's choice)")
    output: str = Field("runs", description="folder under which run directories are created")
    profiler: ProfilerConfig = Field(default_factory=ProfilerConfig)
    taxonomy: TaxonomyConfig = Field(default_factory=TaxonomyConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    compare: dict = Field(default_factory=dict, description="thresholds of `nscharacterize compare` (docs/ci.md)")
    workloads: list[WorkloadEntry] = Field(min_length=1, description="the workloads to profile, in order")
    sweep: SweepConfig | None = Field(None, description="parameter sweep run by `nscharacterize sweep` (ignored by run)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return _plain_name(value)

    def resolved(self) -> dict:
        return self.model_dump(mode="json")

    def hash(self) -> str:
        return config_hash(self.resolved())


def load_config(path: str | Path) -> Config:
    path = Path(path)
    return config_from_dict(load_yaml(path, "config file", ConfigError), path)


def config_from_dict(raw: Any, path: str | Path = "<dict>") -> Config:
    """A config from its keys (a YAML file's contents, or a dict from the Python API), with every
    check ``load_config`` makes; ``path`` names it in errors, and its stem is the default name."""
    path = Path(path)
    if not isinstance(raw, dict):
        raise ConfigError(path, "(top level)", "must be a mapping", "add at least a 'workloads' list")
    try:
        config = Config(**raw)
    except ValidationError as exc:
        raise ConfigError(path, *describe(exc, Config)) from None
    if config.name is None:
        try:
            config.name = check_name(path.stem.strip("<>"))
        except UserError as exc:
            raise ConfigError(path, "name", f"the default name (the file's stem) {exc.what}",
                              "set 'name' in the config") from None
    seen: dict[str, int] = {}
    for i, entry in enumerate(config.workloads):
        _check_entry(path, i, entry)
        if entry.label in seen:
            raise ConfigError(path, f"workloads[{i}].name", f"label {entry.label!r} is already used by "
                              f"workloads[{seen[entry.label]}]", "give each entry a distinct name")
        seen[entry.label] = i
    _check_compare(path, config)
    if config.sweep is not None:
        _check_sweep(path, config)
    return config


def accepts(entry: WorkloadEntry, param: str) -> bool:
    """Whether the workload of ``entry`` has a parameter called ``param``."""
    if registry.is_user_ref(entry.workload):
        import inspect

        sig = inspect.signature(registry.resolve_factory(entry.workload))
        return param in sig.parameters or any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    return param in registry.get_spec(entry.workload).params.model_fields


def point_name(values: dict) -> str:
    """A sweep point's name: its folder under points/ and part of its run's name."""
    return "_".join(f"{k}={v}" for k, v in values.items()).replace("/", "-").replace(" ", "")


def point_config(config: Config, values: dict) -> dict:
    """The plain config of one sweep point: ``values`` set in every workload entry that has them."""
    raw = config.resolved()
    raw.pop("sweep", None)
    for entry, model in zip(raw["workloads"], config.workloads):
        for k, v in values.items():
            if accepts(model, k):
                entry["params"][k] = v
    return raw


def _check_sweep(path: Path, config: Config) -> None:
    sweep = config.sweep
    if sweep is None:
        return
    if sweep.x is not None and sweep.x not in sweep.parameters:
        raise ConfigError(path, "sweep.x", f"{sweep.x!r} is not a swept parameter",
                          f"use one of {', '.join(sweep.parameters)}")
    for name, values in sweep.parameters.items():
        if not values:
            raise ConfigError(path, f"sweep.parameters.{name}", "has no values", "give a list of at least one value")
        if not any(accepts(e, name) for e in config.workloads):
            raise ConfigError(path, f"sweep.parameters.{name}", "no workload entry has this parameter",
                              "use a parameter listed by `nscharacterize list`")
    if sweep.mode == "zip" and len({len(v) for v in sweep.parameters.values()}) > 1:
        raise ConfigError(path, "sweep.mode", "zip needs lists of equal length", "make the lists equal or use grid")
    if sweep.count() > MAX_POINTS:
        raise ConfigError(path, "sweep.parameters", f"makes {sweep.count():,} points, more than {MAX_POINTS:,}",
                          "sweep fewer values (each point is a whole run)")
    names: dict[str, dict] = {}
    for point in sweep.points():
        key = point_name(point)
        if key in names:
            raise ConfigError(path, "sweep.parameters", f"points {names[key]} and {point} have the same name {key!r}",
                              "give values that differ as text (a point's name is its folder)")
        names[key] = point
        try:
            check_name(key)
        except UserError as exc:
            raise ConfigError(path, "sweep.parameters", f"point {key[:60]!r}: {exc.what}", exc.fix) from None
    for point in sweep.points():
        for i, entry in enumerate(config.workloads):
            params = {**entry.params, **{k: v for k, v in point.items() if accepts(entry, k)}}
            _check_entry(path, i, entry.model_copy(update={"params": params}))


def _check_entry(path: Path, i: int, entry: WorkloadEntry) -> None:
    """The workload exists and takes these params, checked before anything is built or called."""
    try:
        if registry.is_user_ref(entry.workload):
            registry.check_call(registry.resolve_factory(entry.workload), entry.workload, entry.params)
            return
        spec = registry.get_spec(entry.workload)
    except WorkloadError as exc:
        raise exc.located(path, f"workloads[{i}]") from None
    try:
        spec.params(**entry.params)
    except ValidationError as exc:
        key, what, fix = describe(exc, spec.params)
        raise ConfigError(path, f"workloads[{i}].params.{key}", what, fix) from None


def _check_compare(path: Path, config: Config) -> None:
    from nscharacterize.gate.settings import CompareSettings

    try:
        CompareSettings(**config.compare)
    except ValidationError as exc:
        key, what, fix = describe(exc, CompareSettings)
        raise ConfigError(path, f"compare.{key}", what, fix) from None
