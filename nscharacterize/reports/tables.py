"""Tables: the Table III form (runtime per component and category) in Markdown and in the terminal."""
from __future__ import annotations

import numpy as np
import pandas as pd

from nscharacterize.attribution.views import (
    BOUND_AXIS, BOUND_SPLIT_AXIS, COMM_BOUND_AT, DEVICE_AXIS, DEVICE_BOUND_AT, HOST_BOUND_AT)
from nscharacterize.attribution.derive import Views
from nscharacterize.taxonomy.categories import (
    BOUND_SPLIT, BOUND_SPLIT_LABELS, CATEGORIES, DEVICE_CATEGORIES, DEVICE_LABELS, LABELS, OTHER_SPLIT,
    OTHER_SPLIT_LABELS, PY_CATEGORIES, PY_LABELS, SHORT)

from .format import fmt_bytes, fmt_device, fmt_time, markdown_table
from .imported_report import imported_sections

def wide(breakdown: pd.DataFrame, axis: str, value: str, columns) -> pd.DataFrame:
    """One row per (workload, component, kind), one column per category of ``axis``."""
    part = breakdown[breakdown["axis"] == axis]
    if part.empty:
        return pd.DataFrame()
    return first_pivot(part, ["workload", "component", "kind"], list(columns), value)


def first_pivot(part: pd.DataFrame, keys: list[str], categories: list, value: str) -> pd.DataFrame:
    """``part``'s ``value`` with one row per distinct ``keys`` (in first-seen order) and one column
    per category of ``categories`` (in that order; others left out): the first known value of
    each row and category, 0 where there is none. pandas' ``pivot_table(aggfunc="first")`` gives
    the same table at about 10 ms a call, and a report makes a few dozen of them."""
    # Rows and columns by plain dicts: pandas' MultiIndex lookups cost a millisecond a call here.
    key_rows = list(zip(*(part[k].tolist() for k in keys)))
    position = {key: i for i, key in enumerate(dict.fromkeys(key_rows))}
    rows = np.array([position[key] for key in key_rows], dtype=np.int64)
    column_of = {c: j for j, c in enumerate(categories)}
    columns = np.array([column_of.get(c, -1) for c in part["category"].tolist()], dtype=np.int64)
    index = _multi_index(list(position), keys)
    known = np.flatnonzero(part[value].notna().to_numpy() & (columns >= 0))
    # Where a row and category repeat, the first value (numpy leaves the winner of a repeated
    # index in one assignment unspecified, so the repeats are dropped first).
    cell = rows[known] * len(categories) + columns[known]
    first = known[np.unique(cell, return_index=True)[1]]
    values = np.zeros((len(index), len(categories)))
    values[rows[first], columns[first]] = part[value].to_numpy(dtype=float)[first]
    return pd.DataFrame(values, index=index, columns=pd.Index(categories, name="category"))


def _multi_index(tuples: list[tuple], names: list[str]) -> pd.MultiIndex:
    """``pd.MultiIndex.from_tuples(tuples, names=names)`` for keys of text (workload, component,
    kind), built from its sorted levels and codes directly: from_tuples factorizes each level
    through a Categorical, 0.4 ms a call of the 0.5 ms a ``first_pivot`` costs. Other keys (a
    missing value, mixed types) go through from_tuples."""
    if not tuples or not all(isinstance(v, str) for t in tuples for v in t):
        return pd.MultiIndex.from_tuples(tuples, names=names)
    levels, codes = [], []
    for values in zip(*tuples):
        level = sorted(set(values))
        code_of = {v: i for i, v in enumerate(level)}
        levels.append(pd.Index(level))
        codes.append(np.array([code_of[v] for v in values], dtype=np.int64))
    return pd.MultiIndex(levels=levels, codes=codes, names=names, verify_integrity=False)


def runtime_rows(breakdown: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    times = wide(breakdown, "category", "time_s", CATEGORIES)
    totals = wide(breakdown, "total", "time_s", ("total",))
    header = ["Workload", "Component", "Kind"] + [LABELS[c] for c in CATEGORIES] + ["Total"]
    rows = [[*key, *(fmt_time(v) for v in times.loc[key]), fmt_time(totals.loc[key, "total"])]
            for key in times.index]
    return header, rows


def device_line(manifest: dict) -> str:
    """Where and how the run measured, in one sentence. An imported trace records less than a run
    (no torch version, no thread count): what it lacks is said, not printed as None."""
    fp = manifest.get("fingerprint") or {}
    missing = []
    name = fp.get("device_name") or fp.get("cpu_model")
    device = f"{fmt_device(fp)} ({name})" if name else fmt_device(fp)
    parts = [f"Device: {device}"]
    threads = fp.get("threads")
    if threads is not None:
        parts.append(f"{threads} thread{'' if threads == 1 else 's'}")
    else:
        missing.append("thread count")
    if fp.get("torch"):
        parts.append(f"torch {fp['torch']}")
    else:
        missing.append("torch version")
    if not name:
        missing.insert(0, "device model")
    text = ", ".join(parts[:2]) + "".join(f"; {p}" for p in parts[2:])
    if fp.get("imported"):
        text += (f" (imported trace: {', '.join(missing)} not recorded in the trace)" if missing else " (imported trace)")
        return text + "."
    return (text + f"; samples per workload: {manifest.get('samples', '?')}, "
            f"unprofiled repeats: {manifest.get('repeats', '?')}.")


def markdown_report(breakdown: pd.DataFrame, timings: pd.DataFrame, checks: pd.DataFrame, manifest: dict,
                    views: Views) -> str:
    """table.md up to the system view; ``views``: what ``attribution.derive`` derived for the run."""
    out = [f"# nscharacterize: {manifest.get('name', '')}", "", device_line(manifest), ""]
    out += cuda_sections(breakdown, views.gpu)
    host = " (host view: op self time on the host)" if (breakdown["axis"] == BOUND_AXIS).any() else ""
    out += [f"## Runtime by category{host} (mean per sample, Table III form)", ""]
    header, rows = runtime_rows(breakdown)
    out += [markdown_table(header, rows), ""]

    shares = wide(breakdown, "category", "share", CATEGORIES)
    out += ["## Share of component runtime (%)", "",
            markdown_table(["Workload", "Component"] + [LABELS[c] for c in CATEGORIES],
                [[k[0], k[1], *(f"{100 * v:.1f}" for v in shares.loc[k])] for k in shares.index]), ""]

    split = wide(breakdown, "other_split", "time_s", OTHER_SPLIT)
    if not split.empty:
        out += ["## What Other holds", "",
                "Ops a rule sends to Other on purpose (allocation, metadata, Python functions of cProfile "
                "components), ops no rule matched, and time outside any op (Python, framework, idle).", "",
                markdown_table(["Workload", "Component"] + [OTHER_SPLIT_LABELS[c] for c in OTHER_SPLIT],
                    [[k[0], k[1], *(fmt_time(v) for v in split.loc[k])] for k in split.index]), ""]

    py = wide(breakdown, "python", "time_s", PY_CATEGORIES)
    if not py.empty:
        out += ["## Python functions (Fig. 7 form)", "",
                "Functions of components measured by cProfile, and an imported trace's Python stack events "
                "(recorded with_stack) in the time no op ran.", "",
                markdown_table(["Workload", "Component"] + [PY_LABELS[c] for c in PY_CATEGORIES],
                    [[k[0], k[1], *(fmt_time(v) for v in py.loc[k])] for k in py.index]), ""]

    if not timings.empty:
        g = timings.groupby(["workload", "component"], sort=False)
        meas = g.agg(wall=("wall_s", "mean"), std=("wall_s", "std"), prof=("profiled_wall_s", "mean"),
                     overhead=("overhead", "mean"), peak=("peak_mem_bytes", "max"), n=("sample", "count"))
        err = checks.groupby(["workload", "component"], sort=False)["addup_error_s"].max() if len(checks) else None
        rows = []
        for key, r in meas.iterrows():
            e = float(err.loc[key]) if err is not None and key in err.index else float("nan")
            rows.append([key[0], key[1], str(int(r["n"])), fmt_time(r["wall"]), fmt_time(r["std"] if r["n"] > 1 else 0.0),
                         fmt_time(r["prof"]), f"{r['overhead']:.2f}x", f"{e:.1e} s", fmt_bytes(r["peak"])])
        out += ["## Measurement", "",
                "Wall = median of the unprofiled repeats, averaged over samples; overhead = profiled / "
                "unprofiled wall; add-up error = largest |sum of categories - wall| over samples.", "",
                markdown_table(["Workload", "Component", "Samples", "Wall", "Spread (std)", "Profiled wall", "Overhead",
                     "Add-up error", "Peak memory"], rows), ""]

    out += imported_sections(views.ranks, views.jobs, manifest)
    out += compile_section(manifest)
    failed = [w for w in manifest.get("workloads", []) if w.get("status") != "ok"]
    if failed:
        out += ["## Failed workloads", ""] + [f"- **{w['name']}**: {w.get('error')}" for w in failed] + [""]
    return "\n".join(out)


def cuda_sections(breakdown: pd.DataFrame, gpu: pd.DataFrame) -> list[str]:
    """On CUDA: the bound view first, the GPU facts and verdicts (``gpu``: ``Views.gpu``), then the
    device view. Empty on CPU."""
    bound = wide(breakdown, BOUND_AXIS, "time_s", CATEGORIES)
    if bound.empty:
        return []
    share = wide(breakdown, BOUND_AXIS, "share", CATEGORIES)
    out = ["## GPU components, bound view (where the wall time goes)", "",
           "While the GPU runs a kernel, time goes to that kernel's category; while it is idle, to the "
           "category of the host op running then, or to Other (Python/framework). Cells add up to the "
           "wall time. Time per sample, share in parentheses.", "",
           markdown_table(["Workload", "Component"] + [LABELS[c] for c in CATEGORIES],
               [[k[0], k[1], *(f"{fmt_time(v)} ({100 * p:.0f}%)" for v, p in zip(bound.loc[k], share.loc[k]))]
                for k in bound.index]), ""]
    split = wide(breakdown, BOUND_SPLIT_AXIS, "share", BOUND_SPLIT)
    summary = gpu.set_index(["workload", "component"])
    rows = []
    for k in split.index:
        s = summary.loc[(k[0], k[1])] if (k[0], k[1]) in summary.index else None
        launches = "" if s is None or s["kernel_launches"] != s["kernel_launches"] else f"{s['kernel_launches']:.0f}"
        med = "" if s is None or s["median_kernel_us"] != s["median_kernel_us"] else fmt_time(s["median_kernel_us"] / 1e6)
        rows.append([k[0], k[1], *(f"{100 * v:.1f}" for v in split.loc[k]), launches, med,
                     "" if s is None else s["verdict"]])
    out += ["## GPU busy and verdict", "",
            f"Verdict: device-bound when the GPU is busy for at least {100 * DEVICE_BOUND_AT:.0f}% of the wall "
            f"time, host-bound at {100 * HOST_BOUND_AT:.0f}% or less, mixed in between; communication-bound "
            f"(above {100 * HOST_BOUND_AT:.0f}%) when communication kernels hold at least "
            f"{100 * COMM_BOUND_AT:.0f}% of the GPU-busy time.", "",
            markdown_table(["Workload", "Component"] + [BOUND_SPLIT_LABELS[c] + " (%)" for c in BOUND_SPLIT]
                           + ["Kernel launches", "Median kernel", "Verdict"], rows), ""]
    dev = wide(breakdown, DEVICE_AXIS, "time_s", DEVICE_CATEGORIES)
    out += ["## GPU components, device view (what the GPU ran)", "",
            "Kernel, memcpy and memset time by the category of the op that launched them (overlapping "
            "streams counted once); GPU idle is its own column.", "",
            markdown_table(["Workload", "Component"] + [DEVICE_LABELS[c] for c in DEVICE_CATEGORIES],
                [[k[0], k[1], *(fmt_time(v) for v in dev.loc[k])] for k in dev.index]), ""]
    return out


def compile_section(manifest: dict) -> list[str]:
    """Compilation facts of compiled workloads (manifest workloads[].info.compile), kept apart from runtime."""
    rows = []
    for w in manifest.get("workloads", []):
        c = (w.get("info") or {}).get("compile")
        if not c:
            continue
        during = c.get("graphs_during_measurement")
        rows.append([w["name"], c.get("mode", "?"), ", ".join(c.get("components", [])), str(c.get("modules", "?")),
                     fmt_time(c["compile_s"]) if "compile_s" in c else "-", str(c.get("graphs", "-")),
                     fmt_time(c["first_pass_s"]) if "first_pass_s" in c else "-",
                     fmt_time(c["steady_pass_s"]) if "steady_pass_s" in c else "-",
                     f"{c.get('fx_graph_cache_hits', '-')}/{c.get('fx_graph_cache_misses', '-')}",
                     "-" if during is None else str(during)])
    if not rows:
        return []
    return ["## Compilation (torch.compile, not part of the runtimes above)", "",
            "Compile = the compiler's own time (Dynamo, AOTAutograd, Inductor code generation and builds) "
            "during the warm-up passes over every sample; first / steady pass = those passes' wall time "
            "while compiling and once compiled; FX cache = Inductor's on-disk graph cache hits/misses; "
            "graphs during measurement must be 0 (otherwise a new input shape compiled inside a measured pass).",
            "", markdown_table(["Workload", "Mode", "Components", "Modules", "Compile", "Graphs", "First pass", "Steady pass",
                     "FX cache hit/miss", "Graphs during measurement"], rows), ""]


def rich_table(breakdown: pd.DataFrame, title: str = "Runtime by category (mean per sample)"):
    from rich.table import Table

    _header, rows = runtime_rows(breakdown)
    table = Table(title=title, show_lines=False)
    table.add_column("Workload / component", no_wrap=True)
    for h in [SHORT[c] for c in CATEGORIES] + ["Total"]:
        table.add_column(h, justify="right", no_wrap=True)
    for r in rows:
        table.add_row(f"{r[0]} / {r[1]} ({r[2][0]})", *r[3:])
    return table

