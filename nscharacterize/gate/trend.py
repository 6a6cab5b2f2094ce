"""The history's series as text (first, last, change, sparkline, steps) and as a trend plot."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nscharacterize.core.fileio import atomic_write
from nscharacterize.reports.format import fmt_time, text_table
from nscharacterize.taxonomy.categories import COLORS, LABELS

from .errors import CompareError
from .history import Series
from .samples import ALL, TOTAL

_SPARK = "▁▂▃▄▅▆▇█"


def sparkline(y: np.ndarray) -> str:
    if not len(y):
        return ""
    lo, hi = float(np.min(y)), float(np.max(y))
    if hi <= lo:
        return _SPARK[0] * len(y)
    return "".join(_SPARK[min(7, int((v - lo) / (hi - lo) * 7.999))] for v in y)


def render_trend(series: list[Series]) -> str:
    """A text table: per series first and last value, change, sparkline and detected steps."""
    if not series:
        return "history is empty\n"
    runs = max(len(s.mean) for s in series)
    head = ["workload", "component", "category", "first", "last", "change", "trend", "steps (first run of a shift)"]
    body = []
    for s in series:
        change = (s.mean[-1] / s.mean[0] - 1) * 100 if s.mean[0] > 0 else float("nan")
        steps = ", ".join(f"{s.labels[i]} ({s.dates[i][:10]}) {_step_change(s, i)}"
                          + (f" [{s.changes[i]}]" if i in s.changes else "") for i in s.steps)
        body.append([s.workload, "total" if s.component == ALL else s.component, s.category, fmt_time(s.mean[0]),
                     fmt_time(s.mean[-1]), "-" if math.isnan(change) else f"{change:+.1f}%", sparkline(s.mean),
                     steps or "-"])
    return (f"{runs} runs, oldest first ({series[0].labels[0]} .. {series[0].labels[-1]})\n"
            + text_table(head, body) + "\n")


def _step_change(s: Series, i: int) -> str:
    prev = [j for j in s.steps if j < i]
    a = prev[-1] if prev else 0
    nxt = [j for j in s.steps if j > i]
    b = nxt[0] if nxt else len(s.mean)
    left, right = s.mean[a:i].mean(), s.mean[i:b].mean()
    return f"{(right / left - 1) * 100:+.1f}%" if left > 0 else ""


def plot_trend(series: list[Series], path: str | Path, option: str = "--plot") -> Path:
    """One panel per workload: each category's mean time per run (ms), the total dashed, steps marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    workloads = list(dict.fromkeys(s.workload for s in series))
    fig, axes = plt.subplots(len(workloads), 1, figsize=(9, 3.2 * max(1, len(workloads))), squeeze=False)
    for ax, wl in zip(axes[:, 0], workloads):
        for s in (s for s in series if s.workload == wl):
            x = np.arange(len(s.mean))
            is_total = s.category == TOTAL
            if not is_total and float(np.max(s.mean)) <= 0:
                continue
            ax.plot(x, s.mean * 1e3, ls="--" if is_total else "-", lw=2 if is_total else 1.2, marker="o", ms=3,
                    color="black" if is_total else COLORS.get(s.category),
                    label="Total" if is_total else LABELS.get(s.category, s.category))
            for i in s.steps:
                ax.axvline(i - 0.5, color="red" if is_total else "grey", ls=":", lw=1)
                ax.annotate("step", (i, s.mean[i] * 1e3), textcoords="offset points", xytext=(3, 5), fontsize=7,
                            color="red" if is_total else "grey")
            ax.set_xticks(x)
            ax.set_xticklabels(s.labels, rotation=45, ha="right", fontsize=7)
        ax.set_title(wl)
        ax.set_ylabel("ms per sample")
        ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    except OSError as exc:
        raise CompareError(option, str(path), f"cannot write the plot ({exc.strerror or exc})",
                           "pass a writable path, or --plot none") from None
    finally:
        plt.close(fig)
    return path
