"""Reads an Nsight Compute CSV export into one row per kernel launch: DRAM bytes, FLOPs, time, SM
throughput and the NVTX ranges the launch ran in.

Both layouts ``ncu --csv`` writes are read:

* the details page (the default, and ``--page details``): one row per (launch, metric) with
  ``Metric Name``, ``Metric Unit`` and ``Metric Value`` columns;
* the raw page (``--page raw``): one row per launch, one column per metric, and a second header
  row of units.

With ``--nvtx`` at collection time the export has a ``thread Domain:Push/Pop_Range:...`` column
holding the thread's open push/pop ranges; the ranges this project names (profiler/nvtx.py) are
picked out of it with ``nvtx.RANGE_RE``. Numbers may carry thousands separators (``6,400``) and
scaled units (``Kbyte``, ``usecond``, ``cycle/nsecond``); both are undone here, so every value
below is in bytes, seconds and FLOPs.

Metrics used (any missing one leaves its column NaN, never 0):

* bytes: ``dram__bytes.sum``, else ``dram__bytes_read.sum`` + ``dram__bytes_write.sum``;
* time: ``gpu__time_duration.sum``, else ``sm__cycles_elapsed.avg`` / ``sm__cycles_elapsed.avg.per_second``;
* FLOPs: per precision (d, f, h) ``add + mul + 2 * fma`` of ``sm__sass_thread_inst_executed_op_*_pred_on.sum``.
  Tensor-core work is not in these counts: ``tensor_inst`` (``sm__inst_executed_pipe_tensor.sum``)
  says where it happened, so a reader knows the FLOPs of that launch are understated;
* ``sm_pct``: ``sm__throughput.avg.pct_of_peak_sustained_elapsed``.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
from pathlib import Path

import pandas as pd

from nscharacterize.core.errors import UserError

from .nvtx import RANGE_RE

COLUMNS = ["id", "process", "kernel", "nvtx", "ranges", "time_s", "dram_bytes", "flops", "sm_pct", "tensor_inst"]
FIX = ("give the CSV of `ncu --import REPORT.ncu-rep --csv --page raw`, collected with the metrics "
       "docs/guide/metrics.md lists")

_FLOP_OPS = [f"sm__sass_thread_inst_executed_op_{p}{op}_pred_on.sum" for p in "dfh" for op in ("add", "mul", "fma")]
METRICS = ["gpu__time_duration.sum", "dram__bytes.sum", "dram__bytes_read.sum", "dram__bytes_write.sum",
           "sm__cycles_elapsed.avg", "sm__cycles_elapsed.avg.per_second",
           "sm__throughput.avg.pct_of_peak_sustained_elapsed", "sm__inst_executed_pipe_tensor.sum", *_FLOP_OPS]

_TIME = {"nsecond": 1e-9, "ns": 1e-9, "usecond": 1e-6, "us": 1e-6, "msecond": 1e-3, "ms": 1e-3,
         "second": 1.0, "s": 1.0}
_PREFIX = {"K": 1e3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_BASES = {"byte", "inst", "cycle", "hz", "sector", "warp", "thread", "request", "instruction", "flop"}


class NcuReportError(UserError):
    """An Nsight Compute export this reader cannot use."""


def read_ncu_csv(path: str | Path) -> pd.DataFrame:
    """One row per kernel launch (``COLUMNS``); ``ranges``: the project's NVTX ranges the launch
    ran in, innermost last, as a tuple of (workload, component, pass) triples."""
    path = Path(path)
    rows = _table(path)
    header = rows[0]
    if "Metric Name" in header and "Metric Value" in header:
        launches = _from_details(path, header, rows[1:])
    else:
        launches = _from_raw(path, header, rows[1:])
    if not launches:
        raise NcuReportError(path, None, "holds no kernel launch rows", FIX)
    frame = pd.DataFrame([_launch(path, key, rec) for key, rec in launches.items()], columns=COLUMNS)
    if frame[["time_s", "dram_bytes"]].isna().all().all():
        raise NcuReportError(path, None, "has neither DRAM bytes nor kernel time for any launch (none of "
                             "gpu__time_duration.sum, sm__cycles_elapsed.avg, dram__bytes.sum, "
                             "dram__bytes_read.sum)", FIX)
    return frame


def _table(path: Path) -> list[list[str]]:
    """The CSV rows from the ``"ID"`` header on: ncu prints ``==PROF==`` lines before it."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        text = raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise NcuReportError(path, None, "does not exist", "give the CSV that ncu --csv wrote") from None
    except IsADirectoryError:
        raise NcuReportError(path, None, "is a directory, not an Nsight Compute CSV", FIX) from None
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise NcuReportError(path, None, f"cannot be read as text ({type(exc).__name__})", FIX) from None
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith('"ID",') or line.startswith("ID,")), None)
    if start is None:
        if path.suffix == ".ncu-rep" or raw[:4] == b"NVPR":
            raise NcuReportError(path, None, "is a binary .ncu-rep report, not its CSV export", FIX)
        raise NcuReportError(path, None, "has no Nsight Compute header row (a first column \"ID\")", FIX)
    try:
        rows = list(csv.reader(io.StringIO("\n".join(lines[start:]))))
    except csv.Error as exc:
        raise NcuReportError(path, None, f"is not valid CSV ({exc})", FIX) from None
    header = rows[0]
    if "Kernel Name" not in header:
        raise NcuReportError(path, "Kernel Name", "column missing from the header", FIX)
    return rows


def _nvtx_column(header: list[str]) -> int | None:
    return next((i for i, name in enumerate(header) if "Push/Pop_Range" in name), None)


def _from_details(path: Path, header: list[str], rows: list[list[str]]) -> dict:
    col = {name: i for i, name in enumerate(header)}
    nvtx = _nvtx_column(header)
    unit_col = col.get("Metric Unit")
    out: dict = {}
    for n, row in enumerate(rows, start=2):
        if len(row) <= col["Metric Value"] or not row[col["ID"]].strip():
            continue
        key = (row[col.get("Process ID", col["ID"])], row[col["ID"]])
        rec = out.setdefault(key, {"kernel": row[col["Kernel Name"]], "nvtx": row[nvtx] if nvtx is not None else "",
                                   "metrics": {}})
        metric = row[col["Metric Name"]]
        if metric in METRICS:
            unit = row[unit_col] if unit_col is not None else ""
            rec["metrics"][metric] = _value(path, f"row {n}: {metric}", row[col["Metric Value"]], unit)
    return out


def _from_raw(path: Path, header: list[str], rows: list[list[str]]) -> dict:
    col = {name: i for i, name in enumerate(header)}
    nvtx = _nvtx_column(header)
    units = [""] * len(header)
    if rows and not rows[0][col["ID"]].strip():  # the units row
        units, rows = rows[0], rows[1:]
    present = [m for m in METRICS if m in col]
    out: dict = {}
    for n, row in enumerate(rows, start=3):
        if len(row) < len(header) or not row[col["ID"]].strip():
            continue
        key = (row[col["Process ID"]] if "Process ID" in col else "", row[col["ID"]])
        out[key] = {"kernel": row[col["Kernel Name"]], "nvtx": row[nvtx] if nvtx is not None else "",
                    "metrics": {m: _value(path, f"row {n}: {m}", row[col[m]], units[col[m]]) for m in present}}
    return out


def _value(path: Path, key: str, text: str, unit: str) -> float:
    text = text.strip()
    if text in ("", "n/a", "N/A"):
        return math.nan
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        raise NcuReportError(path, key, f"value {text!r} is not a number",
                             "export with ncu's default (English) number format") from None
    return number * _scale(path, key, unit.strip())


def _scale(path: Path, key: str, unit: str) -> float:
    if unit in ("", "%"):
        return 1.0
    if "/" in unit:
        num, den = unit.split("/", 1)
        return _scale(path, key, num) / _scale(path, key, den)
    if unit in _TIME:
        return _TIME[unit]
    if unit.lower() in _BASES:
        return 1.0
    if unit[0] in _PREFIX and unit[1:].lower() in _BASES:
        return _PREFIX[unit[0]]
    raise NcuReportError(path, key, f"unit {unit!r} is not one this reader knows",
                         "export with --print-units base, or report the unit")


def _launch(path: Path, key: tuple, rec: dict) -> list:
    m = rec["metrics"]

    def get(name: str) -> float:
        return m.get(name, math.nan)

    time_s = get("gpu__time_duration.sum")
    if math.isnan(time_s):
        time_s = get("sm__cycles_elapsed.avg") / get("sm__cycles_elapsed.avg.per_second")
    dram = get("dram__bytes.sum")
    if math.isnan(dram):
        dram = get("dram__bytes_read.sum") + get("dram__bytes_write.sum")
    counted = [op for op in _FLOP_OPS if op in m and not math.isnan(m[op])]
    flops = sum(m[op] * (2.0 if op.endswith("fma_pred_on.sum") else 1.0) for op in counted) if counted else math.nan
    ranges = tuple((g["workload"], g["component"], g["pass"]) for g in RANGE_RE.finditer(rec["nvtx"]))
    return [key[1], key[0], rec["kernel"], rec["nvtx"], ranges, time_s, dram, flops,
            get("sm__throughput.avg.pct_of_peak_sustained_elapsed"), get("sm__inst_executed_pipe_tensor.sum")]


def metrics_flag() -> str:
    """The ``--metrics`` list for ``ncu`` that gives this reader everything it uses."""
    return ",".join(METRICS)


__all__ = ["COLUMNS", "METRICS", "NcuReportError", "read_ncu_csv", "metrics_flag"]
