"""Figures in the forms of the study: heatmap of shares (Fig. 5), stacked runtime bars (Fig. 6) and
the breakdown of Python functions of symbolic components (Fig. 7)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from nscharacterize.attribution.views import BOUND_AXIS, DEVICE_AXIS  # noqa: E402
from nscharacterize.taxonomy.categories import (  # noqa: E402
    CATEGORIES, COLORS, DEVICE_CATEGORIES, DEVICE_LABELS, LABELS, PY_CATEGORIES, PY_COLORS, PY_LABELS)

from .format import fmt_time  # noqa: E402
from .tables import wide  # noqa: E402


# Figures are made at the resolution RunDir.write_figure saves them at: matplotlib caches text
# layout and mathtext per dpi, so tight_layout's measuring pass is then reused by the save
# instead of redone (about a fifth of each figure's cost).
FIGURE_DPI = 130


def _row_labels(index) -> list[str]:
    return [f"{w} / {c}" for w, c, _k in index]


def heatmap(breakdown: pd.DataFrame):
    """One panel on CPU; on CUDA the bound view first, then the host and the device views."""
    panels: list[tuple[str, tuple[str, ...], dict[str, str], str]] = [
        ("category", CATEGORIES, LABELS, "Runtime share by operator category")]
    if (breakdown["axis"] == BOUND_AXIS).any():
        panels = [(BOUND_AXIS, CATEGORIES, LABELS, "GPU bound view: GPU busy -> kernel's category, "
                   "GPU idle -> host op's (Other: Python/framework)"),
                  ("category", CATEGORIES, LABELS, "Host view: op self time on the host (Table III form)"),
                  (DEVICE_AXIS, DEVICE_CATEGORIES, DEVICE_LABELS, "Device view: kernel time by launching op; GPU idle")]
    frames = [(wide(breakdown, axis, "share", cats) * 100, cats, labels, title) for axis, cats, labels, title in panels]
    frames = [f for f in frames if not f[0].empty]
    heights = [max(0.45 * len(f[0]) + 1.4, 2.6) for f in frames]   # one row still gets a readable colour bar
    fig, axes = plt.subplots(len(frames), 1, figsize=(12, sum(heights) + 0.4), squeeze=False, dpi=FIGURE_DPI,
                             gridspec_kw={"height_ratios": heights})
    for ax, (shares, cats, labels, title) in zip(axes[:, 0], frames):
        _heat(ax, shares, cats, labels, title)
    fig.tight_layout()
    return fig


def _heat(ax, shares: pd.DataFrame, cats, labels: dict, title: str) -> None:
    """An annotated heatmap drawn with matplotlib alone (seaborn's import pulls in scipy: a few
    seconds of every run's end, for one call)."""
    values = shares.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=100, aspect="auto", interpolation="nearest")
    rows, cols = values.shape
    ax.set_xticks(range(cols), [labels[c] for c in cats], rotation=30, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(rows), _row_labels(shares.index))
    ax.set_xticks([x - 0.5 for x in range(1, cols)], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, rows)], minor=True)
    ax.grid(which="minor", color="white", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    for y in range(rows):
        for x in range(cols):
            v = values[y, x]
            ax.text(x, y, f"{v:.1f}", ha="center", va="center", fontsize="small",
                    color="white" if v > 60 else "black")
    ax.figure.colorbar(image, ax=ax, label="share of component runtime (%)")
    ax.set_title(title, fontsize="medium")


def stacked_bars(breakdown: pd.DataFrame):
    times = wide(breakdown, "category", "time_s", CATEGORIES)
    unit, factor = _unit(float(times.sum(axis=1).max()) if len(times) else 0.0)
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(times) + 1.8), dpi=FIGURE_DPI)
    left = pd.Series(0.0, index=times.index)
    labels = _row_labels(times.index)
    for cat in CATEGORIES:
        ax.barh(labels, times[cat] * factor, left=left * factor, color=COLORS[cat], label=LABELS[cat])
        left += times[cat]
    # Components differ by orders of magnitude: print every total so that short bars still read.
    for y, total in enumerate(left):
        ax.text(total * factor, y, f" {fmt_time(total)}", va="center", fontsize="small")
    ax.margins(x=0.12)
    return finish_bars(fig, ax, f"runtime per sample ({unit})", "Runtime by component and category")


def python_breakdown(breakdown: pd.DataFrame):
    """None when no component ran under cProfile."""
    py = wide(breakdown, "python", "share", PY_CATEGORIES) * 100
    if py.empty:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(py) + 1.8), dpi=FIGURE_DPI)
    left = pd.Series(0.0, index=py.index)
    labels = _row_labels(py.index)
    for cat in PY_CATEGORIES:
        ax.barh(labels, py[cat], left=left, color=PY_COLORS[cat], label=PY_LABELS[cat])
        for y, (x0, w) in enumerate(zip(left, py[cat])):
            if w >= 6:
                ax.text(x0 + w / 2, y, f"{w:.0f}%", ha="center", va="center", color="white", fontsize="small")
        left += py[cat]
    ax.set_xlim(0, 100)
    return finish_bars(fig, ax, "share of component runtime (%)", "Python functions of symbolic components (cProfile)")


def finish_bars(fig, ax, xlabel: str, title: str):
    """The common end of every horizontal stacked-bar figure: first row on top, legend beside the axes."""
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    fig.tight_layout()
    return fig


def _unit(max_seconds: float) -> tuple[str, float]:
    if max_seconds < 1e-3:
        return "us", 1e6
    if max_seconds < 1:
        return "ms", 1e3
    return "s", 1.0


def close(fig) -> None:
    plt.close(fig)
