"""The gate's statistics: one-sided significance tests, the noise band, and step detection.

Pure functions of arrays (no files, no settings objects), as in asv, where the statistics live
apart from the commands that use them.
"""
from __future__ import annotations

import math

import numpy as np


def mann_whitney_p(base: np.ndarray, new: np.ndarray, greater: bool) -> float:
    """One-sided Mann-Whitney U p-value that ``new`` is stochastically greater (or less) than ``base``."""
    if len(base) == 0 or len(new) == 0:
        return 1.0
    if np.all(base == base[0]) and np.all(new == new[0]) and base[0] == new[0]:
        return 1.0
    from scipy.stats import mannwhitneyu

    res = mannwhitneyu(new, base, alternative="greater" if greater else "less")
    p = float(res.pvalue)
    return 1.0 if math.isnan(p) else p


def bootstrap_p(base: np.ndarray, new: np.ndarray, greater: bool, resamples: int, seed: int = 0,
                statistic=np.mean) -> float:
    """One-sided bootstrap p-value of the difference of the statistic (new - base) having the other sign."""
    if len(base) == 0 or len(new) == 0:
        return 1.0
    rng = np.random.default_rng(seed)
    bm = statistic(base[rng.integers(0, len(base), (resamples, len(base)))], axis=1)
    nm = statistic(new[rng.integers(0, len(new), (resamples, len(new)))], axis=1)
    diff = nm - bm
    against = np.count_nonzero(diff <= 0) if greater else np.count_nonzero(diff >= 0)
    return float((against + 1) / (resamples + 1))


def min_one_sided_p(n_base: int, n_new: int) -> float:
    """The smallest p a one-sided rank test can reach with these sample counts (complete separation)."""
    if n_base == 0 or n_new == 0:
        return 1.0
    return 1.0 / math.comb(n_base + n_new, n_base)


def spread(x: np.ndarray) -> float:
    """Relative per-sample spread: IQR / median (0 for a non-positive median, NaN when empty)."""
    if len(x) == 0:
        return float("nan")
    med = float(np.median(x))
    if med <= 0:
        return 0.0
    q75, q25 = np.percentile(x, [75, 25])
    return float((q75 - q25) / med)


def noise(base: np.ndarray, new: np.ndarray, statistic: str = "mean") -> float:
    """~95 % half-width of the change from the per-sample spread (standard error of the difference).

    For the median the spread is the IQR-based sigma (robust to load spikes) and the standard error
    of a median is 1.2533 sigma / sqrt(n).
    """
    var = 0.0
    for x in (base, new):
        if len(x) > 1:
            if statistic == "median":
                q75, q25 = np.percentile(x, [75, 25])
                var += (1.2533 * (q75 - q25) / 1.349) ** 2 / len(x)
            else:
                var += float(np.var(x, ddof=1)) / len(x)
    return 2.0 * math.sqrt(var)


def detect_steps(y: np.ndarray, sem: np.ndarray | None = None, beta: float = 3.0, min_rel: float = 0.10,
                 min_size: int = 1) -> list[int]:
    """First indices of level shifts in ``y`` (binary segmentation, noise-scaled penalty).

    sigma is the larger of: the robust run-to-run noise (MAD of first differences / (0.6745 * sqrt 2)),
    the median standard error of the runs themselves (``sem``), and 1 % of the median level. A split
    is kept when it cuts the squared error by more than ``beta * sigma^2 * log(n)`` (at least 2) and
    the two levels differ by ``min_rel`` of the earlier one.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 3:
        return []
    d = np.diff(y)
    sigma = float(np.median(np.abs(d - np.median(d)))) / (0.6745 * math.sqrt(2))
    if sem is not None and len(sem):
        sigma = max(sigma, float(np.median(sem)))
    sigma = max(sigma, 0.01 * abs(float(np.median(y))), 1e-12)
    penalty = beta * sigma ** 2 * max(math.log(n), 2.0)
    steps: list[int] = []

    def cost(a: int, b: int) -> float:
        seg = y[a:b]
        return float(((seg - seg.mean()) ** 2).sum())

    def split(a: int, b: int) -> None:
        if b - a < 2 * min_size:
            return
        total = cost(a, b)
        best, best_k = 0.0, None
        for k in range(a + min_size, b - min_size + 1):
            gain = total - cost(a, k) - cost(k, b)
            if gain > best:
                best, best_k = gain, k
        if best_k is None or best <= penalty:
            return
        left, right = y[a:best_k].mean(), y[best_k:b].mean()
        if abs(right - left) < min_rel * max(abs(left), 1e-15):
            return
        steps.append(best_k)
        split(a, best_k)
        split(best_k, b)

    split(0, n)
    return sorted(steps)
