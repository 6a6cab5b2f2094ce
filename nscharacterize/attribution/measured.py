"""Measured roofline points: Nsight Compute's per-kernel counters summed per component and category.

The modelled roofline (roofline.py) sizes the work from op shapes; this puts beside it what the
hardware counted. Each kernel launch of the report (profiler/ncu_report.py) is placed:

* in a component by the innermost ``nsc|WORKLOAD|COMPONENT|PASS`` NVTX range it ran in (profiler/
  nvtx.py). Warm-up passes (``w<i>``) are left out, as the run leaves them out of its times. A
  report without NVTX ranges can be given to one component whole (``assign``);
* in a category by the run itself where it can: the category the run's own attribution gave the
  kernel of that name in that component (which follows the launching op); else the taxonomy's
  kernel rules on the name; else Other. ``category_via`` says which, per row. Nsight Compute and
  CUPTI (torch.profiler) demangle differently (``<unnamed>`` / ``(anonymous namespace)``,
  ``(int)4`` / ``4``, ``[lambda() (instance 1)]`` / ``{lambda()#1}``), so a name is matched whole
  (spaces ignored) or, failing that, by its function name alone (``kernel_base``) where the run
  gave every kernel of that function in that component one category.

Values are per pass, the unit of the modelled rows (mean per sample): sums over the passes seen
divided by their number. ``sm_pct`` is the time-weighted mean SM throughput of the row's kernels.
FLOPs count the SASS floating-point instructions (add, mul, 2 x fma), so tensor-core work is not in
them; ``tensor_inst`` shows where tensor-pipe instructions ran.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd

COLUMNS = ["workload", "component", "category", "category_via", "kernels", "passes", "time_s", "flops", "bytes",
           "intensity", "achieved_flops_s", "achieved_bytes_s", "sm_pct", "tensor_inst", "source"]


def measured_points(kernels: pd.DataFrame, components: list[tuple[str, str]], classify: Callable[[str], str],
                    run_categories: dict[tuple[str, str, str], str] | None = None,
                    assign: tuple[str, str] | None = None, passes: int = 1,
                    include_warmup: bool = False, source: str = "") -> tuple[pd.DataFrame, dict]:
    """Returns (rows per workload, component and category; notes). ``components``: the run's
    (workload, component) pairs. ``classify``: kernel name -> category by the taxonomy's rules.
    ``run_categories``: (workload, component, kernel name) -> the run's category. ``assign``:
    (workload, component) that gets every launch outside the project's ranges, counted as
    ``passes`` passes. Notes: launches read, placed, outside any range, in warm-up, and range
    names that match no component of the run."""
    run_categories = run_categories or {}
    by_range_name = {(w, c.replace("|", "_")): (w, c) for w, c in components}
    placed: list[dict] = []
    seen_passes: dict[tuple[str, str], set] = {}
    outside = warmup = 0
    unknown: set[str] = set()
    for k in kernels.itertuples(index=False):
        ranges = list(k.ranges)
        if ranges:
            workload, comp, tag = ranges[-1]
            target = by_range_name.get((workload, comp))
            if target is None:
                unknown.add(f"{workload}|{comp}")
                continue
            if tag.startswith("w") and not include_warmup:
                warmup += 1
                continue
        elif assign is not None:
            target, tag = assign, "assigned"
        else:
            outside += 1
            continue
        seen_passes.setdefault(target, set()).add(tag)
        category = run_categories.get((*target, _squeeze(k.kernel))) or \
            run_categories.get((*target, "fn:" + kernel_base(k.kernel)))
        via = "run"
        if category is None:
            category = classify(k.kernel)
            via = "kernel rule" if category != "other" else "none"
        placed.append({"workload": target[0], "component": target[1], "category": category, "category_via": via,
                       "time_s": k.time_s, "flops": k.flops, "bytes": k.dram_bytes, "sm_pct": k.sm_pct,
                       "tensor_inst": k.tensor_inst})
    notes = {"launches": len(kernels), "placed": len(placed), "outside_ranges": outside, "warmup": warmup,
             "unknown_ranges": sorted(unknown)}
    if not placed:
        return pd.DataFrame(columns=COLUMNS), notes
    frame = pd.DataFrame(placed)
    rows = []
    for (workload, comp, cat), grp in frame.groupby(["workload", "component", "category"], sort=False):
        n = passes if seen_passes[(workload, comp)] == {"assigned"} else len(seen_passes[(workload, comp)])
        time_s, flops, nbytes = (_sum(grp[c]) / n for c in ("time_s", "flops", "bytes"))
        weights = grp["time_s"].where(grp["sm_pct"].notna())
        sm = float(np.average(grp["sm_pct"].dropna(), weights=weights.dropna())) \
            if weights.notna().any() and weights.sum() > 0 else math.nan
        vias = set(grp["category_via"])
        rows.append({"workload": workload, "component": comp, "category": cat,
                     "category_via": "+".join(sorted(vias)), "kernels": len(grp) / n, "passes": n,
                     "time_s": time_s, "flops": flops, "bytes": nbytes,
                     "intensity": flops / nbytes if nbytes > 0 else math.nan,
                     "achieved_flops_s": flops / time_s if time_s > 0 else math.nan,
                     "achieved_bytes_s": nbytes / time_s if time_s > 0 else math.nan,
                     "sm_pct": sm, "tensor_inst": _sum(grp["tensor_inst"]) / n, "source": source})
    return pd.DataFrame(rows, columns=COLUMNS), notes


def _sum(values: pd.Series) -> float:
    """NaN when the metric was not collected for any launch, never a silent 0."""
    return float(values.sum()) if values.notna().any() else math.nan


def kernel_base(name: str) -> str:
    """The kernel's function name without namespaces, template arguments and parameters:
    ``void <unnamed>::softmax_warp_forward<float, (int)5>(T2 *)`` -> ``softmax_warp_forward``."""
    text = name.strip().replace("(anonymous namespace)", "anon").replace("<unnamed>", "anon")
    if text.startswith("void "):
        text = text[5:]
    cut = min([i for i in (text.find("<"), text.find("(")) if i >= 0] or [len(text)])
    return text[:cut].rsplit("::", 1)[-1].strip()


def _squeeze(name: str) -> str:
    return "".join(name.split())


def run_kernel_categories(events: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """(workload, component, kernel name without spaces) -> the category the run attributed most of
    that kernel's rows to; and (workload, component, ``fn:`` + kernel_base) where every kernel of
    that function got one category. Empty where the run recorded no kernels (a CPU run)."""
    if events is None or events.empty or "source" not in events or "category" not in events:
        return {}
    rows = events.loc[events["source"] == "kernel", ["workload", "component", "name", "category"]]
    if rows.empty:
        return {}
    counts = rows.astype(str).value_counts()
    out: dict[tuple[str, str, str], str] = {}
    by_function: dict[tuple[str, str, str], set[str]] = {}
    for (workload, comp, name, cat), _ in counts.items():  # most frequent first
        out.setdefault((workload, comp, _squeeze(name)), cat)
        by_function.setdefault((workload, comp, "fn:" + kernel_base(name)), set()).add(cat)
    out.update({key: cats.pop() for key, cats in by_function.items() if len(cats) == 1})
    return out


__all__ = ["COLUMNS", "kernel_base", "measured_points", "run_kernel_categories"]
