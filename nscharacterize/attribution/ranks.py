"""Ranks of a distributed job: per-rank communication and the cross-rank summary.

Imported traces of a distributed job (nscharacterize/import_trace.py) are one workload per rank,
and timings.csv carries each sample's ``rank``, ``job``, communication time ``comm_s`` (the union
of its NCCL/RCCL kernels) and ``comm_overlap_s`` (the part of it during which a compute kernel ran
too). Ranks run concurrently, so nothing here adds ranks up: a job's step lasts as long as its
slowest rank, and the ranks are compared, not summed.

- per rank: step time, GPU busy, communication time, its overlap with compute as a percentage of
  the communication time (HTA's ``get_comm_comp_overlap``), compute time (GPU busy outside
  communication kernels) and the verdict of nscharacterize/attribution/views.py (communication-bound where
  communication kernels hold most of the GPU-busy time);
- per job: min / median / max of the ranks' compute time, the straggler (the rank that computes
  longest, for which the others wait in their collectives) and by how much it exceeds the median,
  and the job's step time (the slowest rank's).
"""
from __future__ import annotations

import pandas as pd

from .views import BOUND_SPLIT_AXIS, DEVICE_AXIS, gpu_summary

RANK_COLUMNS = ["job", "rank", "workload", "component", "device", "samples", "step_s", "gpu_busy_s", "comm_s",
                "comm_overlap_pct", "compute_s", "verdict"]
JOB_COLUMNS = ["job", "ranks", "step_s", "compute_min_s", "compute_median_s", "compute_max_s", "straggler",
               "straggler_excess_pct"]


def rank_table(breakdown: pd.DataFrame, timings: pd.DataFrame) -> pd.DataFrame:
    """One row per (rank, component) of the imported distributed traces; empty otherwise."""
    if "rank" not in timings or timings.empty:
        return pd.DataFrame(columns=RANK_COLUMNS)
    job = timings["job"] if "job" in timings else pd.Series("", index=timings.index)
    t = timings[(pd.to_numeric(timings["rank"], errors="coerce").fillna(-1) >= 0)
                & job.notna() & (job.astype(str) != "")]
    if t.empty:
        return pd.DataFrame(columns=RANK_COLUMNS)
    g = t.groupby(["workload", "component"], sort=False)
    per = g.agg(job=("job", "first"), rank=("rank", "first"), device=("device", "first"), samples=("sample", "count"),
                step_s=("wall_s", "mean"), comm_s=("comm_s", "mean"), overlap_s=("comm_overlap_s", "mean"))
    cat = breakdown[breakdown["axis"] == "category"]
    host_comm = cat[cat["category"] == "communication"].set_index(["workload", "component"])["time_s"]
    split = breakdown[breakdown["axis"] == BOUND_SPLIT_AXIS]
    busy = split[split["category"] == "device_busy"].set_index(["workload", "component"])["time_s"]
    dev = breakdown[breakdown["axis"] == DEVICE_AXIS]
    dev_comm = dev[dev["category"] == "communication"].set_index(["workload", "component"])["time_s"]
    summary = gpu_summary(breakdown, timings).set_index(["workload", "component"])
    rows = []
    for key, r in per.iterrows():
        cuda = r["device"] == "cuda" and key in busy.index
        gpu_busy = float(busy.loc[key]) if cuda else float("nan")
        # On a GPU: the communication kernels' time; on a CPU (gloo): the host view's.
        comm = float(r["comm_s"]) if cuda else float(host_comm.get(key, 0.0))
        overlap = 100.0 * float(r["overlap_s"]) / comm if cuda and comm > 0 else float("nan")
        compute = gpu_busy - float(dev_comm.get(key, 0.0)) if cuda else float(r["step_s"]) - comm
        if cuda:
            verdict = summary.loc[key, "verdict"] if key in summary.index else ""
        else:
            verdict = "communication-bound" if comm >= 0.5 * float(r["step_s"]) else "host"
        rows.append([r["job"], int(r["rank"]), key[0], key[1], r["device"], int(r["samples"]), float(r["step_s"]),
                     gpu_busy, comm, overlap, compute, verdict])
    return pd.DataFrame(rows, columns=RANK_COLUMNS).sort_values(["job", "rank"], kind="stable").reset_index(drop=True)


def job_table(ranks: pd.DataFrame) -> pd.DataFrame:
    """One row per job with two or more ranks: the cross-rank summary."""
    rows = []
    for job, grp in ranks.groupby("job", sort=False):
        per_rank = grp.groupby("rank")[["compute_s", "step_s"]].sum()   # a rank's components, in sequence
        if len(per_rank) < 2:
            continue
        compute = per_rank["compute_s"]
        median = float(compute.median())
        straggler = int(compute.idxmax())
        excess = 100.0 * (float(compute.max()) - median) / median if median > 0 else float("nan")
        rows.append([job, len(per_rank), float(per_rank["step_s"].max()), float(compute.min()), median,
                     float(compute.max()), straggler, excess])
    return pd.DataFrame(rows, columns=JOB_COLUMNS)
