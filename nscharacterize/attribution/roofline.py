"""The roofline per component and category: work (FLOPs, bytes) against time and the ceilings.

For each (workload, component, category), mean per sample:

* ``flops`` and ``bytes``: the sum of ``opcost`` over the category's op rows that do the work
  (an op nested in a sized op is covered by it and not counted twice);
* ``time_s``: the category's attributed time from the breakdown (on a GPU the device view when
  the breakdown has one, else the category axis), the same number table.md shows;
* ``intensity`` = flops / bytes; achieved FLOP/s and bytes/s = work / time;
* the bound at that intensity, min(peak, intensity x bandwidth), with peak the measured GEMM
  ceiling of the dtype that does most of the row's FLOPs;
* ``fraction_of_bound`` = max(flops / peak, bytes / bandwidth) / time: the shortest time the
  ceilings allow for this work over the time it took (1 = on the roofline). It is defined for
  rows without FLOPs too (data movement: bytes / bandwidth / time);
* ``bound``: memory where bytes / bandwidth > flops / peak (intensity below the ridge), else
  compute;
* ``unsized_share``: the share of the category's profiled op time in ops the model cannot size
  (listed by ``unsized_ops``): where it is large, the achieved rates understate the row;
* for GEMM rows, ``tall_skinny_share``: the share of GEMM op time in products with
  min(m, n, k) <= 16.

Category Other is left out: most of its time is outside any op.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

from nscharacterize.profiler.ceilings import ceiling_key
from nscharacterize.profiler.events import op_time_us
from nscharacterize.rundir.schemas import ROOFLINE
from nscharacterize.taxonomy.categories import CATEGORIES

from .opcost import Unsized, always_unsized, is_worker, op_cost

SKINNY = 16   # min(m, n, k) at or below which a product is tall-and-skinny
COLUMNS = ROOFLINE.names                 # roofline.csv (nscharacterize/rundir/schemas.py)
UNSIZED_COLUMNS = ["workload", "component", "category", "name", "calls", "time_share", "reason"]
_COMP = ["workload", "component"]


def op_costs(events: pd.DataFrame) -> pd.DataFrame:
    """Per op row: ``status`` (sized | covered | unsized | covered_unsized: inside an op that can
    never be sized), per-call flops, bytes, gemm dims,
    dtype and reason, plus ``t_us``, the row's profiled time (kernel time on a GPU)."""
    ops = events[events["source"] == "op"]
    cols = ["name", "input_shapes", "input_dtypes", "concrete_inputs", "children", "ancestors"]
    frame = _strings(ops, cols)
    memo: dict[tuple, tuple] = {}
    out = []
    for key in frame.itertuples(index=False, name=None):
        if key not in memo:
            memo[key] = _row_cost(*key)
        out.append(memo[key])
    costs = pd.DataFrame(out, index=ops.index, columns=["status", "flops_call", "bytes_call", "gemm", "dtype",
                                                        "reason"])
    result = pd.concat([ops, costs], axis=1)
    result["t_us"] = _row_time_us(events, result)
    return result


# The event columns that add up over samples; every other column is part of an op row's identity.
_ADDITIVE = ("calls", "self_cpu_us", "self_device_us", "gpu_busy_us", "gpu_idle_self_us", "flops", "bytes")


def summed_over_samples(events: pd.DataFrame) -> pd.DataFrame:
    """Host-only events with the rows of one op (same component, name, context, shapes, category)
    in different samples added into one row (``sample`` -1), so that sizing the work costs the
    distinct ops, not ops x samples: at 10,000 samples the per-row frames of ``op_costs`` were most
    of a run's peak memory (issue 23). Every use of the rows here is a sum over samples divided by
    the breakdown's ``n_samples``, so the roofline is the same. Runs with device events are left
    as they are: their kernel time is split among op rows within each sample."""
    if len(events) == 0 or (events["device"].astype(str) == "cuda").any() or events["sample"].nunique() < 2:
        return events
    return _summed(events)


def _summed(events: pd.DataFrame) -> pd.DataFrame:
    sums = [c for c in _ADDITIVE if c in events.columns]
    keys = [c for c in events.columns if c not in sums and c != "sample"]
    out = events.groupby(keys, sort=False, dropna=False, observed=True)[sums].sum().reset_index()
    return out.assign(sample=-1)[list(events.columns)]


def summed_batches(batches: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """``summed_over_samples`` of events read a batch at a time (``RunDir.event_batches``), for
    the end of a run and ``report``: host-only rows are summed as they come, so what is held
    grows with the distinct ops, not with the samples (reading every event of a 10,000-sample run
    at once was its peak memory: issue 23); rows of a device (cuda) keep their samples, as
    ``summed_over_samples`` leaves them. Everything that reads the result (the roofline, the
    page's classification, ``torch_flops_agreement``) sums over samples, so it is the same."""
    host: list[pd.DataFrame] = []
    device: list[pd.DataFrame] = []
    held = reduced = 0
    first: pd.DataFrame | None = None
    for batch in batches:
        first = batch.iloc[:0] if first is None else first   # its columns and dtypes, not its rows
        on_device = (batch["device"].astype(str) == "cuda").to_numpy()
        if on_device.any():
            device.append(batch[on_device])
            batch = batch[~on_device]
        if len(batch):
            host.append(_summed(batch))
            held += len(host[-1])
        if held > 2 * reduced + 100_000:   # re-sum what is held once it has doubled
            host = [_summed(pd.concat(host, ignore_index=True))]
            held = reduced = len(host[0])
    if first is None:
        raise ValueError("summed_batches needs at least one batch (an empty one gives the columns)")
    if len(host) > 1:
        host = [_summed(pd.concat(host, ignore_index=True))]
    parts = [f for f in host + device if len(f)] or [first.iloc[:0]]
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    for col in first.columns:   # concat of differing categories gives objects: categorical again
        if isinstance(first[col].dtype, pd.CategoricalDtype) and not isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype("category")
    return out


def _strings(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """The recorded string columns as Python strings (object columns), "" where missing (runs
    written before a column existed). Not pandas' text dtype: it is arrow-backed in pandas 3, and
    iterating its rows costs a Python call per cell, most of sizing configs/ci.yaml's 16,000 rows."""
    def text(c: str) -> list[str]:
        if c not in frame:
            return [""] * len(frame)
        return [v if type(v) is str else "" if pd.isna(v) else str(v) for v in frame[c].tolist()]
    return pd.DataFrame({c: pd.Series(text(c), index=frame.index, dtype=object) for c in cols}, index=frame.index)


def _row_cost(name, shapes, dtypes, concrete, children, ancestors):
    chain = [a for a in ancestors.split(">") if a]
    if any(is_worker(a) for a in chain):
        # inside an op that can never be sized (a sparse product, nms): its time is unsized too
        status = "covered_unsized" if any(always_unsized(a) for a in chain) else "covered"
        return (status, 0.0, 0.0, None, "", "")
    try:
        cost = op_cost(name, shapes, dtypes, concrete, children)
    except Unsized as exc:
        return ("unsized", 0.0, 0.0, None, "", str(exc))
    return ("sized", cost.flops, cost.bytes, cost.gemm, cost.dtype, "")


def _gemm_dims(name, shapes, dtypes, concrete):
    """GEMM dims of any product row, covered or not (its self time is the product's time)."""
    try:
        return op_cost(name, shapes, dtypes, concrete).gemm
    except Unsized:
        return None


def _row_time_us(events: pd.DataFrame, ops: pd.DataFrame) -> pd.Series:
    """Host: the op's profiled self time. GPU: the device time of the kernels it launched, split
    among op rows of the same launching context in proportion to their calls."""
    host = op_time_us(ops)
    on_gpu = ops["device"] == "cuda"
    if not on_gpu.any():
        return host
    kernels = events[(events["source"] == "kernel") & (events["ancestors"].astype(str) != "")]
    if kernels.empty:
        return host.where(~on_gpu, 0.0)
    chain = kernels["ancestors"].astype(str)
    k = pd.DataFrame({"workload": kernels["workload"], "component": kernels["component"],
                      "sample": kernels["sample"], "name": chain.str.rsplit(">", n=1).str[-1],
                      "ancestors": chain.str.rsplit(">", n=1).str[0].where(chain.str.contains(">"), ""),
                      "k_us": kernels["self_device_us"]})
    keys = ["workload", "component", "sample", "name", "ancestors"]
    per_ctx = k.groupby(keys)["k_us"].sum()
    ctx = pd.MultiIndex.from_frame(ops[keys].astype({"ancestors": str}))
    calls_in_ctx = ops.groupby(keys)["calls"].transform("sum")
    gpu_time = pd.Series(per_ctx.reindex(ctx).to_numpy(), index=ops.index).fillna(0.0) * ops["calls"] / calls_in_ctx
    return host.where(~on_gpu, gpu_time.fillna(0.0))


def time_axis(breakdown: pd.DataFrame) -> str:
    """The breakdown axis whose times the roofline uses: a device view over the categories when
    the run has one (GPU runs), else the category axis."""
    for axis in dict.fromkeys(breakdown["axis"].astype(str)):
        if axis.startswith("device") and set(breakdown.loc[breakdown["axis"] == axis, "category"]) & set(CATEGORIES):
            return axis
    return "category"


def roofline(events: pd.DataFrame, breakdown: pd.DataFrame, ceilings: dict | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(roofline rows, unsized ops) for every component and category with op time or work."""
    if events.empty or breakdown.empty or "category" not in events:
        return pd.DataFrame(columns=COLUMNS), pd.DataFrame(columns=UNSIZED_COLUMNS)
    ops = op_costs(summed_over_samples(events) if "n_samples" in breakdown else events)
    ops = ops.assign(category=ops["category"].astype(str), flops=ops["flops_call"] * ops["calls"],
                     bytes_=ops["bytes_call"] * ops["calls"])
    axis = time_axis(breakdown)
    times = breakdown[breakdown["axis"] == axis].set_index(_COMP + ["category"])
    samples = breakdown[breakdown["axis"] == "total"].set_index(_COMP)["n_samples"] \
        if "n_samples" in breakdown else None
    peaks = (ceilings or {}).get("peak_flops") or {}
    bandwidth = (ceilings or {}).get("bandwidth_bytes_s")
    source = (ceilings or {}).get("source", "")

    # Every sum per (component, category) in one group-by each, every lookup a dict: filtering the
    # ops per component and category was most of the roofline's cost (issue 23).
    keys = _COMP + ["category"]
    n_seen = ops.groupby(_COMP, sort=False)["sample"].nunique()
    comp_order = {key: i for i, key in enumerate(n_seen.index)}
    metas = {(r["workload"], r["component"]): r for r in breakdown.drop_duplicates(_COMP).to_dict("records")}
    time_of = times["time_s"].to_dict()
    cat_order = {cat: i for i, cat in enumerate(CATEGORIES) if cat != "other"}
    status = ops["status"]
    ops["unsized_t"] = ops["t_us"].where(status.isin(["unsized", "covered_unsized"]), 0.0)
    sums = ops.groupby(keys, sort=False)[["flops", "bytes_", "t_us", "unsized_t"]].sum()
    unsized_ops = ops[status == "unsized"]
    n_unsized = unsized_ops.groupby(keys, sort=False)["name"].nunique().to_dict()
    # the dtype with the most sized work (the first in dtype order on a tie, as before)
    by_dtype = ops[status == "sized"].groupby(keys + ["dtype"])["flops"].sum()
    top_dtype = {key[:3]: key[3] for key in by_dtype.groupby(level=[0, 1, 2]).idxmax()}
    gemm_parts = dict(iter(ops[ops["category"] == "gemm"].groupby(keys, sort=False)))
    missing = unsized_ops.groupby(keys + ["name", "reason"], sort=False)[["calls", "t_us"]].sum()
    found = []
    for (w, c, cat), (flops_sum, bytes_sum, op_t, unsized_t) in zip(sums.index, sums.itertuples(index=False)):
        if cat not in cat_order:
            continue
        n = float(samples.get((w, c), np.nan)) if samples is not None else np.nan
        n = n if n == n and n > 0 else float(n_seen.get((w, c)) or 1)
        t = float(time_of.get((w, c, cat), 0.0))
        if t <= 0 and flops_sum == 0 and bytes_sum == 0:
            continue
        flops, nbytes = flops_sum / n, bytes_sum / n
        n_missing = n_unsized.get((w, c, cat), 0)
        dtype_key = ceiling_key(top_dtype[(w, c, cat)]) if flops > 0 and (w, c, cat) in top_dtype else "float32"
        peak_dtype = dtype_key if dtype_key in peaks else ("float32" if "float32" in peaks else "")
        peak = peaks.get(peak_dtype, np.nan) if peak_dtype else np.nan
        row = _row(w, c, metas[(w, c)], cat, t, flops, nbytes, peak, peak_dtype, bandwidth, source,
                   unsized_t / op_t if op_t > 0 else (1.0 if n_missing else 0.0), n_missing,
                   _skinny_share(gemm_parts[(w, c, cat)]) if cat == "gemm" else np.nan)
        found.append(((comp_order[(w, c)], cat_order[cat]), row, n, op_t))
    found.sort(key=lambda f: f[0])   # components as they came, categories in the study's order
    rows = [row for _key, row, _n, _op_t in found]
    per_group = {(row["workload"], row["component"], row["category"]): (key, n, op_t) for key, row, n, op_t in found}
    placed = []
    for (w, c, cat, name, reason), (calls, t_us) in zip(missing.index, missing.itertuples(index=False)):
        if (w, c, cat) not in per_group:
            continue
        key, n, op_t = per_group[(w, c, cat)]
        placed.append((key, {"workload": w, "component": c, "category": cat, "name": name,
                                   "calls": int(calls / n), "time_share": t_us / op_t if op_t > 0 else np.nan,
                                   "reason": reason}))
    placed.sort(key=lambda r: r[0])   # as the rows: components as they came, then categories
    unsized_rows = [r for _key, r in placed]
    table = pd.DataFrame(rows, columns=COLUMNS)
    unsized = pd.DataFrame(unsized_rows, columns=UNSIZED_COLUMNS)
    return table, unsized.sort_values(["workload", "component", "time_share"], ascending=[True, True, False],
                                      kind="stable").reset_index(drop=True)


def _row(w, c, meta, cat, t, flops, nbytes, peak, peak_dtype, bandwidth, source, unsized_share, n_unsized, skinny):
    bw = float(bandwidth) if bandwidth else np.nan
    intensity = flops / nbytes if nbytes > 0 else np.nan
    t_compute = flops / peak if peak == peak and peak > 0 else np.nan
    t_memory = nbytes / bw if bw == bw and bw > 0 else np.nan
    fastest = np.nanmax([t_compute, t_memory]) if not (math.isnan(t_compute) and math.isnan(t_memory)) else np.nan
    bound_rate = min(peak, intensity * bw) if intensity == intensity else (0.0 if nbytes > 0 else np.nan)
    return {"workload": w, "component": c, "kind": meta.get("kind", ""), "device": meta.get("device", ""),
            "category": cat, "time_s": t, "flops": flops, "bytes": nbytes, "intensity": intensity,
            "achieved_flops_s": flops / t if t > 0 else np.nan, "achieved_bytes_s": nbytes / t if t > 0 else np.nan,
            "peak_flops_s": peak, "peak_dtype": peak_dtype, "bandwidth_bytes_s": bw,
            "ridge": peak / bw if bw == bw and bw > 0 and peak == peak else np.nan,
            "bound_flops_s": bound_rate,
            "fraction_of_bound": fastest / t if t > 0 and fastest == fastest and (flops > 0 or nbytes > 0) else np.nan,
            "bound": ("" if math.isnan(t_memory) and math.isnan(t_compute) or (flops == 0 and nbytes == 0) else
                      "memory" if (t_memory if t_memory == t_memory else 0) >= (t_compute if t_compute == t_compute else 0)
                      else "compute"),
            "unsized_share": unsized_share, "unsized_ops": n_unsized, "tall_skinny_share": skinny,
            "ceilings": source}


def _skinny_share(part: pd.DataFrame) -> float:
    """Share of GEMM op time in products with min(m, n, k) <= SKINNY (any product row that has
    dims, covered or not: the product's own row holds its time)."""
    dims = [_gemm_dims(*key) for key in _strings(part, ["name", "input_shapes", "input_dtypes", "concrete_inputs"])
            .itertuples(index=False, name=None)]
    has = np.array([d is not None for d in dims])
    if not has.any():
        return np.nan
    skinny = np.array([d is not None and min(d[1:]) <= SKINNY for d in dims])
    t = part["t_us"].to_numpy()
    total = t[has].sum()
    return float(t[skinny].sum() / total) if total > 0 else np.nan


def torch_flops_agreement(events: pd.DataFrame) -> pd.DataFrame:
    """Per op name where torch.profiler estimated FLOPs: its total, ours on the same rows, and
    the ratio (1.0 = agreement), and the calls behind them. Products and convolutions agree exactly; for add/mul torch
    counts the first operand's elements, the model the output's. Used by the tests and the report."""
    rows = events[(events["source"] == "op") & (events["flops"] > 0)]
    if rows.empty:
        return pd.DataFrame(columns=["name", "torch_flops", "model_flops", "ratio", "calls"])
    ours = []
    for name, sh, dt, cc, ch in _strings(rows, ["name", "input_shapes", "input_dtypes", "concrete_inputs",
                                                 "children"]).itertuples(index=False):
        try:
            ours.append(op_cost(name, sh, dt, cc, ch).flops)
        except Unsized:
            ours.append(np.nan)
    frame = pd.DataFrame({"name": rows["name"].astype(str).to_numpy(), "torch_flops": rows["flops"].to_numpy(),
                          "model_flops": np.asarray(ours) * rows["calls"].to_numpy(), "calls": rows["calls"].to_numpy()})
    out = frame.groupby("name").agg(torch_flops=("torch_flops", "sum"), model_flops=("model_flops", "sum"),
                                    calls=("calls", "sum")).reset_index()
    out["ratio"] = out["model_flops"] / out["torch_flops"]
    return out
