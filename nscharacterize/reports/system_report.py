"""The system view in the run's report: end-to-end latency, neural vs symbolic, component shares
(Fig. 6 of the study per model, with its headline question answered in numbers)."""
from __future__ import annotations

import pandas as pd

from nscharacterize.attribution.system import SIDES
from nscharacterize.taxonomy.categories import CATEGORIES, COLORS, LABELS

from .format import fmt_time, markdown_table


def system_markdown(system: pd.DataFrame, split: pd.DataFrame) -> str:
    """``system``: system.csv; ``split``: its per-workload sides (``Views.sides``)."""
    if system.empty:
        return ""
    roleless = [r.workload for r in split.itertuples() if r.neural_s + r.symbolic_s <= 0 < r.end_to_end_s]
    out = ["## End to end (components in sequence, mean per sample)", "",
           "Latency = sum of the components' unprofiled wall times per sample. Neural = components of "
           "kind neural, symbolic = kind symbolic, whichever profiler measured them.", "",
           markdown_table(["Workload", "End to end", "Spread (std)", "Neural", "Symbolic", "Neural : symbolic"],
                          [[r.workload, fmt_time(r.end_to_end_s), fmt_time(r.std_s),
                            *(["-", "-", "no roles"] if r.workload in roleless else
                              [f"{fmt_time(r.neural_s)} ({100 * r.neural_share:.1f}%)",
                               f"{fmt_time(r.symbolic_s)} ({100 * r.symbolic_share:.1f}%)",
                               _ratio(r.neural_s, r.symbolic_s)])] for r in split.itertuples()]), ""]
    if roleless:
        out += [f"{', '.join(roleless)}: the components have no neural or symbolic role (an imported trace does "
                "not record which part of the program is which), so there is no neural : symbolic split.", ""]
    comp = system[(system["scope"] == "component")]
    out += ["### Share of end-to-end time per component", "",
            markdown_table(["Workload", "Component", "Time", "Share (%)"],
                           [[r.workload, r.group, fmt_time(r.time_s), f"{100 * r.share:.1f}"]
                            for r in comp.itertuples()]), ""]
    side = system[(system["scope"] == "side") & (system["category"] != "total")]
    rows = []
    for (workload, group), grp in side.groupby(["workload", "group"], sort=False):
        by_cat = grp.set_index("category")["share"]
        if by_cat.sum() == 0:
            continue
        rows.append([workload, group, *(f"{100 * by_cat.get(c, 0.0):.1f}" for c in CATEGORIES)])
    out += ["### Within each side: category shares of end-to-end time (%)", "",
            markdown_table(["Workload", "Side"] + [LABELS[c] for c in CATEGORIES], rows), ""]
    return "\n".join(out)


def _ratio(a: float, b: float) -> str:
    if b <= 0:
        return "symbolic side absent" if a > 0 else "-"
    return f"{a / b:.2f} : 1"


def system_figure(system: pd.DataFrame):
    """One bar per (workload, side): stacked category times, each bar annotated with its share."""
    if system.empty:
        return None
    from .plots import FIGURE_DPI, finish_bars, plt

    side = system[(system["scope"] == "side") & (system["category"] != "total")]
    bars = [(w, s) for (w, s), g in side.groupby(["workload", "group"], sort=False) if g["time_s"].sum() > 0]
    if not bars:
        return None
    e2e = system[system["scope"] == "end_to_end"].set_index("workload")["time_s"]
    scale, unit = (1e3, "ms") if e2e.max() < 1 else (1.0, "s")
    fig, ax = plt.subplots(figsize=(11, 0.5 * len(bars) + 1.8), dpi=FIGURE_DPI)
    labels = [f"{w} / {s}" for w, s in bars]
    left = [0.0] * len(bars)
    for c in CATEGORIES:
        widths = [float(side[(side["workload"] == w) & (side["group"] == s) & (side["category"] == c)]["time_s"].sum())
                  * scale for w, s in bars]
        ax.barh(labels, widths, left=left, color=COLORS[c], label=LABELS[c])
        left = [a + b for a, b in zip(left, widths)]
    for y, ((w, s), total) in enumerate(zip(bars, left)):
        share = float(system[(system["workload"] == w) & (system["scope"] == "side") & (system["group"] == s)
                             & (system["category"] == "total")]["share"].iloc[0])
        pct = f"{100 * share:.1f}" if 0 < share < 0.01 or 0.99 < share < 1 else f"{100 * share:.0f}"   # not 0% or 100% for a part
        ax.text(total, y, f" {total:.3g} {unit} ({pct}% of end to end)", va="center", fontsize="small")
    ax.set_xlim(0, max(left) * 1.55 if max(left) > 0 else 1)   # the longest bar's label inside the axes,
    return finish_bars(fig, ax, f"time per sample ({unit})",    # clear of the legend beside them
                       "End to end: neural vs symbolic, by category")


__all__ = ["system_markdown", "system_figure", "SIDES"]
