"""The gate's thresholds (``CompareSettings``), their precedence with blame for bad values, and
the default locations of the history and the baseline store.

Precedence: defaults < the new run's config (``compare:`` section) < ``--settings FILE`` (its
``compare:`` section) < command-line options. Each value remembers where it came from, so that a
value pydantic refuses is reported against that file and key, or that option (``--rel-threshold
-1`` names ``--rel-threshold``, not the run's config).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nscharacterize.core.fileio import load_yaml
from nscharacterize.rundir.manifest import FINGERPRINT_KEYS

from .errors import CompareError

# Where the gate keeps its stores unless told otherwise (relative to the working directory, so a
# repository can commit them). Here, not in history/baselines, so the CLI can name them as defaults
# without importing pandas.
DEFAULT_DB = Path(".nscharacterize") / "history.sqlite"
DEFAULT_STORE = Path(".nscharacterize") / "baselines"


LAST_LOOK_SHARE = 0.5   # of alpha, spent at the last of several looks (CompareSettings.alpha_look)
PASS_ERROR = 0.05       # a change of exactly the threshold passes at most this often, all looks together


class CompareSettings(BaseModel):
    """The ``compare:`` section of a config; most fields are also ``compare`` options.

    Defaults were measured on a shared, loaded 2-core machine (benchmarks/false_alarm.py), where
    whole workloads ran up to 3-4x slower from one run to the next: asv's alpha = 0.002, a wide
    relative threshold, a floor that ignores microsecond-sized categories, and (for A/B rounds)
    the round check are what kept interleaved comparisons of unchanged code free of false alarms.
    The floor was 50 us until the power study showed it let a 2x slowdown of a 38 us component
    pass on a fast machine; at 5 us (five ticks of torch 2.3's microsecond timestamps) false alarms
    and inconclusive ends of unchanged code did not move (docs/ci.md, "The absolute floor").
    """

    model_config = ConfigDict(extra="forbid")

    rel_threshold: float = Field(0.25, ge=0, description="relative change a regression must exceed (0.25 = +25 %)")
    abs_floor_s: float = Field(5e-6, ge=0, description="absolute change per sample a regression must exceed (s)")
    alpha: float = Field(0.002, gt=0, lt=1, description="significance level of the per-sample test (one-sided; asv uses 0.002)")
    statistic: Literal["median", "mean"] = Field(
        "median", description="per-sample statistic compared (median resists load spikes; mean adds up to totals)")
    test: Literal["auto", "mannwhitney", "welch", "bootstrap"] = Field(
        "auto", description="significance test: auto = Mann-Whitney U where the sample counts let it reach alpha "
        "(6+ a side at 0.002), else Welch's t on log times; mannwhitney, welch or bootstrap to force one")
    looks: int = Field(1, ge=1, le=100, description="interim analyses the false-alarm rate is split over (weighted "
                       "Bonferroni: half of alpha at the last look, the other half evenly over the earlier ones), so "
                       "that adding rounds until the data decides keeps the gate's rate at alpha; `ab` and "
                       "`compare --refs/--configs` set it from --max-rounds")
    look: int | None = Field(None, ge=1, le=100, description="which of the looks this comparison is (1: after the "
                             "first rounds); none given with looks > 1: an earlier look's level, the stricter")
    bootstrap_resamples: int = Field(2000, ge=100, le=100_000, description="resamples of the bootstrap test "
                                     "(at most 100,000: each is an array of every sample)")
    share_points: float = Field(5.0, ge=0, description="category-share shift to flag, in points of the component total")
    fail_on_share_shift: bool = Field(False, description="exit 1 on a significant share shift, not just flag it")
    round_check: bool = Field(True, description="with A/B rounds: a change must be significant with the samples "
                              "grouped by round, and its noise band counts the drift between rounds")
    paired: bool = Field(True, description="with A/B rounds of the same samples (`ab`): test the change of each "
                         "round pair (what samples differ by cancels; a run's own shift counts as noise), its "
                         "variance shrunk toward what the rows share (empirical Bayes; needs round_check)")
    fail_on_missing: bool = Field(True, description="exit 1 when a workload (or a component) of the base is missing or failed in the new run")
    fail_on_inconclusive: bool = Field(True, description="exit 3 when the data cannot decide a row (too few samples, "
                                       "noise or machine contention wider than the threshold); false: report it, exit 0")
    axes: list[str] = Field(default_factory=lambda: ["category"], min_length=1,
                           description="samples.csv axes to compare (at least one: none would gate only totals)")
    fingerprint_keys: list[str] = Field(
        default_factory=lambda: ["torch", "device", "device_name", "cuda", "cpu_model", "threads", "config_hash"],
        description="fingerprint keys that must match (others only warn); a key the fingerprint does not have is refused")

    @field_validator("fingerprint_keys")
    @classmethod
    def _known_fingerprint_keys(cls, keys: list[str]) -> list[str]:
        # A misspelt key would never differ, so the gate would pass runs from different machines
        unknown = [k for k in keys if k not in FINGERPRINT_KEYS]
        if unknown:
            raise ValueError(f"{', '.join(map(repr, unknown))} is no fingerprint key, so it would never differ; "
                             f"use keys of manifest.json's fingerprint: {', '.join(sorted(FINGERPRINT_KEYS))}")
        return keys


    @property
    def alpha_look(self) -> float:
        """The significance level of this look (``look`` of ``looks``): alpha spent by a weighted
        Bonferroni split fixed before the first look, ``LAST_LOOK_SHARE`` of it at the last look and
        the rest evenly over the earlier ones. The levels of all looks sum to alpha, so whatever the
        dependence between looks the rate of a false alarm at any look is at most alpha. Most of
        it goes to the last look, as group-sequential designs do (O'Brien-Fleming): an early look
        stops only on a plain change, and the last one, with every round in, is not starved by
        looks that did not stop (an even split left a 2x slowdown of mlp-demo at p = 0.0004-0.0007
        after 6 rounds a side, inconclusive at 0.002 / 5)."""
        return self.alpha * self._look_share()

    @property
    def pass_level(self) -> float:
        """How often this look may pass a change of exactly the threshold: the one-sided level of
        the upper bound a pass must keep under it (``verdicts.upper_bound``), ``PASS_ERROR`` split
        over the looks as alpha is. A sequence that may stop to pass at any of seven looks, each at
        5 %, passed a threshold-sized change 9-19 % of the time (docs/ci.md, "Detection power");
        split, the looks together pass it at most ``PASS_ERROR`` of the time, whatever the
        dependence between them."""
        return PASS_ERROR * self._look_share()

    def _look_share(self) -> float:
        """This look's share of an error rate spent over all looks (weighted Bonferroni)."""
        if self.looks == 1:
            return 1.0
        if self.look is not None and self.look >= self.looks:
            return LAST_LOOK_SHARE
        return (1.0 - LAST_LOOK_SHARE) / (self.looks - 1)


def section(data: Any, file: str | Path) -> dict:
    """The ``compare:`` mapping of a parsed config or settings file ({} when it has none)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CompareError(file, "", f"must be a mapping, got {type(data).__name__}",
                           "write a YAML mapping with a `compare:` section")
    sec = data.get("compare")
    if sec is None:
        return {}
    if not isinstance(sec, dict):
        raise CompareError(file, "compare", f"must be a mapping, got {type(sec).__name__}",
                           "write `compare:` with keys such as rel_threshold")
    return sec


def resolve(run_config: dict | None = None, run_config_file: str | Path = "",
            settings_file: str | Path | None = None,
            options: dict[str, tuple[str, Any]] | None = None) -> CompareSettings:
    """Merges the layers in precedence order and validates the result.

    ``options`` maps a field to ``(option name, value)``; ``None`` values are not given.
    """
    merged: dict[str, Any] = {}
    origin: dict[str, tuple[str, str]] = {}   # field -> (file or option, key prefix)
    layers: list[tuple[str, str, dict]] = []
    if run_config is not None:
        layers.append((str(run_config_file), "compare", section(run_config, run_config_file)))
    if settings_file:
        data = load_yaml(settings_file, "settings file", CompareError)
        layers.append((str(settings_file), "compare", section(data, settings_file)))
    for source, prefix, values in layers:
        for key, value in values.items():
            merged[key] = value
            origin[str(key)] = (source, prefix)
    for field, (option, value) in (options or {}).items():
        if value is not None:
            merged[field] = value
            origin[field] = (option, "")
    return validate(merged, origin)


def validate(values: dict, origin: dict[str, tuple[str, str]] | None = None) -> CompareSettings:
    """``CompareSettings(**values)``; a refused value is a CompareError naming its file and key,
    or its option."""
    try:
        return CompareSettings(**values)
    except ValidationError as exc:
        from nscharacterize.core.validation import describe   # the one wording of pydantic errors

        key, what, fix = describe(exc, CompareSettings)
        loc = exc.errors()[0].get("loc") or ("",)
        source, prefix = (origin or {}).get(str(loc[0]), ("compare settings", "compare"))
        raise CompareError(source, ".".join(p for p in (prefix, key) if p) if prefix else "", what, fix) from None


def for_run(new_run: str | Path, settings_file: str | Path | None = None,
            options: dict[str, tuple[str, Any]] | None = None) -> CompareSettings:
    """``resolve`` with the new run's own config (its ``compare:`` section) as the lowest layer;
    a run without config.yaml contributes nothing (compare then reports the run itself)."""
    from nscharacterize.rundir import store

    file = Path(new_run) / store.CONFIG
    run_config = store.RunDir(new_run).config if file.is_file() else None
    return resolve(run_config, file, settings_file, options)
