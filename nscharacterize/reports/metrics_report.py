"""Memory and sparsity per component and category (memory.csv, sparsity.csv), for table.md and the page.

The numbers come from the run's extra dispatch-level pass (nscharacterize/profiler/opmetrics.py);
this module only reads and renders them, as means over the measured samples.
"""
from __future__ import annotations

import pandas as pd

from nscharacterize.rundir import store
from nscharacterize.rundir import schemas
from nscharacterize.rundir.store import RunDir, RunDirError
from nscharacterize.taxonomy.categories import CATEGORIES, LABELS

from .format import fmt_bytes

PARTS = ("parameters", "inputs", "state", "peak_intermediates", "allocator_peak")
PART_LABELS = {"parameters": "Parameters", "inputs": "Inputs", "state": "Other state", "peak_intermediates":
               "Peak intermediates", "allocator_peak": "Allocator peak (CUDA)", "allocated": "Allocated (all ops)"}


def _read(run: RunDir, name: str) -> pd.DataFrame | None:
    """The table, read through its schema (rundir/schemas.py); None when the run did not measure
    it, or when the file is damaged: the rest of the report still renders."""
    try:
        return run.metrics(schemas.FILES[name])
    except RunDirError:
        return None


def memory_table(run: RunDir) -> pd.DataFrame | None:
    """Per workload and component, mean bytes per sample of each part, the total allocated, and the
    category that allocated most."""
    mem = _read(run, store.MEMORY)
    if mem is None or mem.empty or not {"workload", "component", "part", "category", "bytes", "sample"} <= set(mem):
        return None
    keys = ["workload", "component"]
    order = list(dict.fromkeys(zip(mem["workload"], mem["component"])))
    parts = mem[mem["part"] != "allocated"].groupby(keys + ["part"], sort=False)["bytes"].mean().unstack("part")
    alloc = mem[mem["part"] == "allocated"].groupby(keys + ["category"], sort=False)["bytes"].mean().unstack("category")
    out = pd.DataFrame(index=pd.MultiIndex.from_tuples(order, names=keys))
    for p in PARTS:
        if p in parts:
            out[p] = parts[p]
    out["allocated"] = alloc.sum(axis=1) if not alloc.empty else 0.0
    top = alloc.fillna(0.0)
    top = top.idxmax(axis=1).where(top.max(axis=1) > 0) if not top.empty else pd.Series(dtype=object)
    out["top_category"] = top.map(lambda c: LABELS.get(c, c) if isinstance(c, str) else "").reindex(out.index).fillna("")
    return out.reset_index()


def allocated_by_category(run: RunDir) -> pd.DataFrame | None:
    """Mean bytes allocated per sample, per workload, component and category (wide, CATEGORIES order)."""
    mem = _read(run, store.MEMORY)
    if mem is None or mem.empty or "part" not in mem:
        return None
    alloc = mem[mem["part"] == "allocated"]
    if alloc.empty:
        return None
    wide = alloc.groupby(["workload", "component", "category"], sort=False)["bytes"].mean().unstack("category")
    return wide.reindex(columns=[c for c in CATEGORIES if c in wide.columns]).fillna(0.0)


def sparsity_table(run: RunDir) -> pd.DataFrame | None:
    """Per workload, component and category: % of zeros and near-zeros in the ops' outputs and inputs."""
    sp = _read(run, store.SPARSITY)
    if sp is None or sp.empty or not {"elements", "zeros", "near_zeros", "side"} <= set(sp):
        return None
    g = sp.groupby(["workload", "component", "category", "side"], sort=False)[["elements", "zeros", "near_zeros"]].sum()
    g["zeros_pct"] = 100 * g["zeros"] / g["elements"]
    g["near_pct"] = 100 * g["near_zeros"] / g["elements"]
    wide = g[["zeros_pct", "near_pct", "elements"]].unstack("side")
    wide.columns = [f"{side}_{what}" for what, side in wide.columns]
    wide = wide.reset_index()
    wide["category"] = pd.Categorical(wide["category"], categories=list(CATEGORIES), ordered=True)
    order = {k: i for i, k in enumerate(dict.fromkeys(zip(sp["workload"], sp["component"])))}
    wide["_o"] = [order[k] for k in zip(wide["workload"], wide["component"])]
    return wide.sort_values(["_o", "category"]).drop(columns="_o").reset_index(drop=True)


def markdown(run: RunDir) -> str:
    """table.md's memory and sparsity sections; empty when the run measured neither."""
    out: list[str] = []
    mem = memory_table(run)
    if mem is not None:
        cols = [p for p in PARTS if p in mem] + ["allocated"]
        out += ["## Memory per component (mean per sample)", "",
                "From the dispatch-level pass (memory.csv; method and its error: docs/guide/metrics.md).", "",
                "| Workload | Component | " + " | ".join(PART_LABELS[c] for c in cols) + " | Most allocated by |",
                "|---|---|" + "---|" * (len(cols) + 1)]
        for _, r in mem.iterrows():
            out.append(f"| {r['workload']} | {r['component']} | " + " | ".join(fmt_bytes(r[c]) for c in cols)
                       + f" | {r['top_category'] or '-'} |")
        out.append("")
    sp = sparsity_table(run)
    if sp is not None:
        out += ["## Sparsity per category (zeros in the ops' outputs / inputs)", "",
                "Percent of floating elements exactly zero (near-zero within the run's tolerance in brackets); "
                "sparsity.csv.", "",
                "| Workload | Component | Category | Output zeros % | Input zeros % |", "|---|---|---|---|---|"]
        for _, r in sp.iterrows():
            def cell(side: str) -> str:
                z, n = r.get(f"{side}_zeros_pct"), r.get(f"{side}_near_pct")
                return "-" if pd.isna(z) else f"{z:.1f} ({n:.1f})"
            out.append(f"| {r['workload']} | {r['component']} | {LABELS.get(str(r['category']), r['category'])} | "
                       f"{cell('output')} | {cell('input')} |")
        out.append("")
    return "\n".join(out)


def html_section(run: RunDir):
    """The page's "Memory and sparsity" section, or None when the run measured neither."""
    from nscharacterize.taxonomy.categories import COLORS

    from .html import Section, figure, paragraph, table

    mem, sp = memory_table(run), sparsity_table(run)
    if mem is None and sp is None:
        return None
    sec = Section("memory", "Memory and sparsity", "What does each component hold and allocate, by category, and "
                  "how many of the values its ops produce are zero? One extra pass per sample, off the timed path.")
    sec.add(paragraph("Method and what it cannot see: docs/guide/metrics.md. Bytes are means per sample."))
    if mem is not None:
        shown = mem.rename(columns={**PART_LABELS, "top_category": "most allocated by"})
        for c in PART_LABELS.values():
            if c in shown:
                shown[c] = shown[c] / 2**20
        shown = shown.rename(columns={c: f"{c} (MiB)" for c in PART_LABELS.values()})
        sec.add(table(shown, "Memory per component (memory.csv)"))
        wide = allocated_by_category(run)
        if wide is not None and not wide.empty:
            names = [f"{w} / {c}" for w, c in wide.index]
            fig = {"data": [{"type": "bar", "orientation": "h", "name": LABELS.get(cat, cat), "y": names,
                             "x": (wide[cat] / 2**20).tolist(), "marker": {"color": COLORS.get(cat)}}
                            for cat in wide.columns],
                   "layout": {"barmode": "stack", "title": {"text": "Bytes allocated per sample by category"},
                              "xaxis": {"title": {"text": "MiB"}}, "legend": {"traceorder": "normal"}}}
            sec.add(figure(fig, height=160 + 28 * len(names)))
    if sp is not None:
        shown = sp.rename(columns={"output_zeros_pct": "output zeros %", "output_near_pct": "output near-zero %",
                                   "input_zeros_pct": "input zeros %", "input_near_pct": "input near-zero %",
                                   "output_elements": "output elements", "input_elements": "input elements"})
        shown["category"] = [LABELS.get(str(c), str(c)) for c in shown["category"]]
        sec.add(table(shown, "Sparsity per component and category (sparsity.csv)"))
    return sec
