"""The columns of every table in a run directory: one schema per table, for writer and reader.

The profiler, attribution and import-trace build their frames from these schemas (``Table.names``,
``Table.dtypes``, ``Table.frame``), and ``store.RunDir`` checks every file it loads against the same
schema (``Table.check``), so a column cannot be written under one definition and read under another.
tests/rundir/test_schemas.py writes every table through the writers and reads it back.

A column is ``required`` if every run directory this version reads has it; a column added later
is not required, and the reader fills it in (empty: NaN, "" or False) when an older run lacks it,
so a reader downstream never asks whether it is there. ``nullable`` marks a column that may hold
an empty value (not measured). Columns beyond the schema are allowed: a merged A/B run adds
``round``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import RunDirError

STR, INT, FLOAT, BOOL = "str", "int", "float", "bool"
_DTYPES = {STR: "string", INT: "int64", FLOAT: "float64", BOOL: "bool"}
_FIX = "the file is damaged; re-run or re-copy the run"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str                  # STR | INT | FLOAT | BOOL
    nullable: bool = False     # may be empty: not measured
    required: bool = True      # False: older runs lack it; the reader fills it in
    doc: str = ""

    @property
    def dtype(self) -> str:
        """The pandas dtype a writer gives the column."""
        return _DTYPES[self.kind]


@dataclass(frozen=True)
class Table:
    file: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def dtypes(self) -> dict[str, str]:
        return {c.name: c.dtype for c in self.columns}

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def without(self, names: tuple[str, ...]) -> "Table":
        """The same table less ``names`` (events.parquet before the taxonomy classifies it)."""
        return Table(self.file, tuple(c for c in self.columns if c.name not in names))

    def empty(self) -> pd.DataFrame:
        """A frame with every column, no rows, typed as written."""
        return pd.DataFrame({c.name: pd.Series(dtype=c.dtype) for c in self.columns})

    def frame(self, rows: list[dict] | None = None) -> pd.DataFrame:
        """The writer's frame: ``rows`` (dicts) in the schema's column order; an empty list gives
        ``empty()``. A key outside the schema is a bug, not a user error."""
        if not rows:
            return self.empty()
        extra = {k for r in rows for k in r} - set(self.names)
        if extra:
            raise ValueError(f"{self.file}: columns {sorted(extra)} are not in its schema (rundir/schemas.py)")
        return pd.DataFrame(rows, columns=self.names)

    def check(self, path: Path, frame: pd.DataFrame) -> pd.DataFrame:
        """Every required column present and of its kind, the later ones filled in where absent;
        returns the frame with the schema's columns typed. Anything else: one ``RunDirError``."""
        missing = [c.name for c in self.columns if c.required and c.name not in frame.columns]
        if missing:
            raise RunDirError(path, "columns", f"missing column(s) {missing}",
                              "it was not written by nscharacterize or was edited by hand; re-run")
        for col in self.columns:
            if col.name not in frame.columns:
                frame[col.name] = _blank(col, len(frame))
            else:
                values = frame[col.name]
                typed = _typed(path, col, values)
                if typed is not values:   # a column already of its kind is left in place (most are)
                    frame[col.name] = typed
        return frame

    def csv_read_options(self) -> dict[str, Any]:
        """``pandas.read_csv`` options that keep text as text and read only an empty cell of a
        number column as missing (a workload may be called "NA")."""
        text = [c.name for c in self.columns if c.kind == STR]
        return {"dtype": {c: str for c in text}, "keep_default_na": False,
                "na_values": {c.name: [""] for c in self.columns if c.kind != STR}}


def _blank(col: Column, n: int) -> pd.Series:
    if col.kind == STR:
        return pd.Series([""] * n, dtype="string")
    if col.kind == BOOL:
        return pd.Series([False] * n, dtype="bool")
    return pd.Series([math.nan] * n, dtype="float64")


def _typed(path: Path, col: Column, values: pd.Series) -> pd.Series:
    if col.kind in (INT, FLOAT) and isinstance(values.dtype, np.dtype) and values.dtype.kind in "iuf":
        return _typed_number(path, col, values)
    if col.kind == BOOL and values.dtype == bool:
        return values
    if col.kind == STR:
        bad = ~values.map(lambda v: isinstance(v, str)) if values.dtype == object else None
        if bad is None and not (pd.api.types.is_string_dtype(values) or isinstance(values.dtype, pd.CategoricalDtype)):
            raise RunDirError(path, col.name, f"holds {values.dtype} values, not text", _FIX)
        if bad is not None and bad.any():
            row = int(bad.to_numpy().argmax())
            raise RunDirError(path, col.name, f"row {row + 1}: {values.iloc[row]!r} is not text", _FIX)
        return values
    if col.kind == BOOL:
        ok = values.isin([True, False, "True", "False"])
        if not ok.all():
            row = int((~ok).to_numpy().argmax())
            raise RunDirError(path, col.name, f"row {row + 1}: {values.iloc[row]!r} is not True/False", _FIX)
        return values.isin([True, "True"])
    try:
        numbers = pd.to_numeric(values, errors="coerce")
    except OverflowError:  # a number of hundreds of digits
        raise RunDirError(path, col.name, "holds a number too large to read", _FIX) from None
    bad = numbers.isna() & (values.notna() if col.nullable else True)
    if col.kind == INT:
        bad |= numbers.notna() & (numbers % 1 != 0)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        what = "an integer" if col.kind == INT else "a number"
        raise RunDirError(path, col.name, f"row {row + 1}: {values.iloc[row]!r} is not {what}", _FIX)
    if col.kind == FLOAT and (numbers.abs() == math.inf).any():
        raise RunDirError(path, col.name, "holds an infinite value", _FIX)
    if col.kind == INT and values.dtype.kind not in "iu":
        return numbers if numbers.isna().any() else numbers.astype("int64")   # a nullable count stays float
    if col.kind == FLOAT and values.dtype.kind != "f":
        return numbers.astype("float64")
    return values


def _typed_number(path: Path, col: Column, values: pd.Series) -> pd.Series:
    """``_typed`` of a number column that the reader already parsed as numbers (the usual case:
    read_csv gives a column of numbers as int64 or float64): the same checks on its array, without
    pandas' generic conversion, which was most of the cost of reading a run directory's tables."""
    x = values.to_numpy()
    if x.dtype.kind in "iu":   # whole numbers, none missing
        return values if col.kind == INT else values.astype("float64")
    missing = np.isnan(x)
    bad = np.zeros(len(x), dtype=bool) if col.nullable else missing.copy()
    if col.kind == INT:
        with np.errstate(invalid="ignore"):
            bad |= ~missing & (np.fmod(x, 1) != 0)   # an infinite value is no integer either
    if bad.any():
        row = int(bad.argmax())
        what = "an integer" if col.kind == INT else "a number"
        raise RunDirError(path, col.name, f"row {row + 1}: {values.iloc[row]!r} is not {what}", _FIX)
    if col.kind == FLOAT and np.isinf(x).any():
        raise RunDirError(path, col.name, "holds an infinite value", _FIX)
    if col.kind == INT and not missing.any():
        return values.astype("int64")
    return values


def _c(name: str, kind: str, doc: str = "", *, nullable: bool = False, required: bool = True) -> Column:
    return Column(name, kind, nullable, required, doc)


_KEYS = (_c("workload", STR), _c("component", STR), _c("kind", STR, "neural | symbolic | imported"))

# events.parquet: the columns the profiler writes (nscharacterize/profiler/events.py aggregates into
# them), then the three columns the taxonomy adds.
_RAW_EVENTS = (
    *_KEYS, _c("sample", INT),
    _c("source", STR, "op | runtime | annotation | kernel | python"),
    _c("device", STR, "cpu | cuda"),
    _c("name", STR, "aten::addmm, a kernel name, or module:function"),
    _c("ancestors", STR, "enclosing ops, outermost first, joined by '>'"),
    _c("children", STR, "ops called directly, sorted, joined by '|'"),
    _c("calls", INT),
    _c("self_cpu_us", FLOAT, "profiled self time on the host"),
    _c("self_device_us", FLOAT, "profiled device time: a kernel's duration; for an op, its kernels'"),
    _c("gpu_busy_us", FLOAT, "device events: share of the GPU-busy time (overlaps split evenly)", required=False),
    _c("gpu_idle_self_us", FLOAT, "host events on CUDA: self time while the GPU ran nothing", required=False),
    _c("input_shapes", STR, "per argument, tensor lists nested: '[[8, 16], [[3, 4], [3, 4]], []]'", required=False),
    _c("input_dtypes", STR, "per argument, comma-separated, empty for None", required=False),
    _c("concrete_inputs", STR, "JSON list of the sizing arguments (strides, dims...), null elsewhere", required=False),
    _c("flops", FLOAT, "as estimated by torch.profiler (matmul and conv only)", required=False),
    _c("bytes", FLOAT, "estimated bytes of tensor inputs read", required=False),
)
_CLASSIFIED = (_c("category", STR, "added by the taxonomy"), _c("subcategory", STR, "added by the taxonomy"),
               _c("rule", STR, "added by the taxonomy: the id of the rule that matched; '' for none"))
EVENTS = Table("events.parquet", _RAW_EVENTS + _CLASSIFIED)
CLASSIFIED = tuple(c.name for c in _CLASSIFIED)

TIMINGS = Table("timings.csv", (
    *_KEYS, _c("profiler", STR, "torch | cprofile"), _c("device", STR), _c("sample", INT),
    _c("wall_s", FLOAT, "unprofiled wall time W: median of the repeats"),
    _c("wall_min_s", FLOAT), _c("wall_max_s", FLOAT), _c("repeats", INT),
    _c("profiled_wall_s", FLOAT, "wall time of the profiled pass P"),
    _c("overhead", FLOAT, "P / W", nullable=True),
    _c("peak_mem_bytes", FLOAT, "what the call adds over what was allocated before it", nullable=True),
    _c("resident_mem_bytes", FLOAT, "allocated before the call (CUDA)", nullable=True, required=False),
    _c("kernel_launches", INT, "kernels the call launched", nullable=True, required=False),
    _c("median_kernel_us", FLOAT, "median kernel duration; empty without kernels", nullable=True, required=False),
))

SAMPLES = Table("samples.csv", (
    *_KEYS, _c("device", STR), _c("axis", STR, "category | other_split | python | bound | bound_split | device | total"),
    _c("category", STR), _c("sample", INT), _c("time_s", FLOAT),
))

BREAKDOWN = Table("breakdown.csv", (
    *_KEYS, _c("device", STR), _c("axis", STR), _c("category", STR),
    _c("time_s", FLOAT, "mean per sample"), _c("share", FLOAT, "of the component's total"),
    _c("std_s", FLOAT, nullable=True), _c("p25_s", FLOAT), _c("p75_s", FLOAT), _c("min_s", FLOAT),
    _c("max_s", FLOAT), _c("n_samples", INT),
))

CHECKS = Table("checks.csv", (
    _c("workload", STR), _c("component", STR), _c("sample", INT), _c("wall_s", FLOAT),
    _c("profiled_wall_s", FLOAT), _c("scale", FLOAT, "W / P as applied to op times"),
    _c("addup_error_s", FLOAT, "|sum of categories - W|"), _c("clamped", BOOL, "op time exceeded W"),
))

SYSTEM = Table("system.csv", (
    _c("workload", STR), _c("scope", STR, "end_to_end | side | component"),
    _c("group", STR, "all | neural | symbolic | a component"), _c("category", STR, "total or a category"),
    _c("time_s", FLOAT), _c("share", FLOAT, "of the workload's end-to-end time"), _c("std_s", FLOAT),
    _c("n_samples", INT),
))

ROOFLINE = Table("roofline.csv", (
    *_KEYS, _c("device", STR), _c("category", STR), _c("time_s", FLOAT), _c("flops", FLOAT), _c("bytes", FLOAT),
    _c("intensity", FLOAT, "flops / bytes", nullable=True),
    _c("achieved_flops_s", FLOAT, nullable=True), _c("achieved_bytes_s", FLOAT, nullable=True),
    _c("peak_flops_s", FLOAT, nullable=True), _c("peak_dtype", STR),
    _c("bandwidth_bytes_s", FLOAT, nullable=True), _c("ridge", FLOAT, nullable=True),
    _c("bound_flops_s", FLOAT, nullable=True), _c("fraction_of_bound", FLOAT, nullable=True),
    _c("bound", STR, "memory | compute | ''"), _c("unsized_share", FLOAT, nullable=True),
    _c("unsized_ops", INT), _c("tall_skinny_share", FLOAT, nullable=True),
    _c("ceilings", STR, "measured | datasheet | ''"),
))

# Beyond time (config ``metrics``; nscharacterize/profiler/opmetrics.py writes them, one pass per sample)
_METRIC_KEYS = (*_KEYS, _c("device", STR), _c("sample", INT))
MEMORY = Table("memory.csv", (
    *_METRIC_KEYS, _c("part", STR, "parameters | inputs | state | peak_intermediates | allocator_peak | allocated"),
    _c("category", STR, "a category, or '' for a part of the whole component"), _c("bytes", FLOAT),
))
SPARSITY = Table("sparsity.csv", (
    *_METRIC_KEYS, _c("category", STR), _c("side", STR, "output | input"),
    _c("elements", FLOAT, "floating elements the category's ops wrote (outputs) or read (inputs)"),
    _c("zeros", FLOAT, "of them exactly zero"), _c("near_zeros", FLOAT, "of them within tolerance of zero"),
    _c("tolerance", FLOAT),
))
COUNTERS = Table("counters.csv", (
    *_METRIC_KEYS, _c("category", STR), _c("event", STR, "a perf_event counter name"), _c("value", FLOAT),
))

# The tables a run directory holds, by file name: what ``RunDir`` reads.
FILES: dict[str, Table] = {t.file: t for t in (EVENTS, TIMINGS, SAMPLES, BREAKDOWN, CHECKS, SYSTEM, ROOFLINE,
                                               MEMORY, SPARSITY, COUNTERS)}
