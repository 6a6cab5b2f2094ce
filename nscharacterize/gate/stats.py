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


def welch_log_p(base: np.ndarray, new: np.ndarray, greater: bool) -> float:
    """One-sided Welch t-test p-value that ``new`` is larger (or smaller) than ``base``, on log times.

    For small samples, where a rank test cannot reach a strict alpha at all (Mann-Whitney with 3 a
    side: p >= 0.05), a parametric test can, when the change is large against the spread. Times are
    compared on a log scale (a slowdown multiplies them; their noise is relative); series holding a
    zero are compared as they are. Needs two samples a side (else 1.0).
    """
    if len(base) < 2 or len(new) < 2:
        return 1.0
    b, n = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    if np.all(b > 0) and np.all(n > 0):
        b, n = np.log(b), np.log(n)
    vb, vn = float(np.var(b, ddof=1)), float(np.var(n, ddof=1))
    diff = float(n.mean() - b.mean())
    if vb == 0 and vn == 0:
        return 1.0 if diff == 0 or (diff > 0) != greater else 0.0
    from scipy.stats import ttest_ind

    p = float(ttest_ind(n, b, equal_var=False, alternative="greater" if greater else "less").pvalue)
    return 1.0 if math.isnan(p) else p


def _side_level(rounds: list[np.ndarray], log: bool) -> tuple[float, float, float] | None:
    """(mean, variance of that mean, degrees of freedom) of one side's rounds, clustered or not.

    A one-way random-effects look at the side: when the round means scatter more than their
    samples predict (F test at 0.05), the rounds are the independent units (variance of the mean
    of round means, R - 1 degrees of freedom); else the samples are (N - 1)."""
    xs = [np.log(r) if log else np.asarray(r, dtype=float) for r in rounds if len(r)]
    if not xs:
        return None
    means = np.array([x.mean() for x in xs])
    all_x = np.concatenate(xs)
    n_tot, n_r = len(all_x), len(xs)
    if n_r < 2:
        return (float(all_x.mean()), float(np.var(all_x, ddof=1)) / n_tot if n_tot > 1 else float("inf"),
                float(max(n_tot - 1, 1)))
    within = sum(float(((x - x.mean()) ** 2).sum()) for x in xs)
    msw = within / (n_tot - n_r) if n_tot > n_r else 0.0
    var_means = float(np.var(means, ddof=1))
    expected = msw * float(np.mean([1.0 / len(x) for x in xs]))
    clustered = True
    if expected > 0:
        from scipy.stats import f as f_dist

        clustered = float(f_dist.sf(var_means / expected, n_r - 1, n_tot - n_r)) < 0.05
    elif var_means == 0:
        clustered = False
    if clustered:
        return float(means.mean()), var_means / n_r, float(n_r - 1)
    return float(all_x.mean()), float(np.var(all_x, ddof=1)) / n_tot, float(n_tot - 1)


def round_drift(rounds: list[np.ndarray]) -> float:
    """The spread of one side's rounds beyond what their samples predict: the standard deviation of
    the round effect (one-way random-effects ANOVA, ``max(0, var of round means - within / n)``),
    relative (on log times where all are positive). 0 when the rounds agree within their samples.

    Unlike the range of the round medians, it does not grow with the number of rounds, nor with the
    sampling noise of a median of a few samples: on a quiet machine the rounds of sub-millisecond
    components differ by 60-117 % in range only because each median holds 4 noisy samples."""
    xs = [np.asarray(r, dtype=float) for r in rounds if len(r)]
    if len(xs) < 2:
        return 0.0
    log = all(np.all(x > 0) for x in xs)
    if log:
        xs = [np.log(x) for x in xs]
    means = np.array([x.mean() for x in xs])
    n_tot, n_r = sum(len(x) for x in xs), len(xs)
    within = sum(float(((x - x.mean()) ** 2).sum()) for x in xs)
    msw = within / (n_tot - n_r) if n_tot > n_r else 0.0
    between = float(np.var(means, ddof=1)) - msw * float(np.mean([1.0 / len(x) for x in xs]))
    sd = math.sqrt(max(between, 0.0))
    if log:
        return math.exp(sd) - 1.0
    level = abs(float(means.mean()))
    return sd / level if level > 0 else (0.0 if sd == 0 else float("inf"))


def rounds_noise(base_rounds: list[np.ndarray], new_rounds: list[np.ndarray], base_level: float) -> float:
    """~95 % half-width (seconds) of the change with samples grouped in rounds (``_side_level``: per
    round where the rounds scatter beyond their samples, else per sample): what a change must beat
    when load shifts whole rounds. Shrinks as rounds are added, unlike the range of the rounds.

    Scaled like ``noise`` (two standard errors), times ``t(0.95, df) / 1.645`` for the rounds'
    Satterthwaite degrees of freedom: with few rounds as the units, the normal quantile would claim
    a resolution that 2 or 3 numbers a side do not have."""
    allpos = all(np.all(np.asarray(r) > 0) for r in (*base_rounds, *new_rounds) if len(r))
    b, n = _side_level(base_rounds, allpos), _side_level(new_rounds, allpos)
    if b is None or n is None:
        return float("nan")
    return _half_width(b[1] + n[1], _satterthwaite(b, n), base_level, allpos)


def _half_width(se2: float, df: float, base_level: float, log: bool) -> float:
    """~95 % half-width (seconds) of a change whose mean has variance ``se2`` with ``df`` degrees of
    freedom: two standard errors times ``t(0.95, df) / 1.645``, back from the log scale around
    ``base_level`` where ``log``."""
    if not math.isfinite(se2):
        return float("inf")
    from scipy.stats import t as t_dist

    half = 2.0 * math.sqrt(se2) * float(t_dist.ppf(0.95, max(df, 1.0))) / 1.645
    return base_level * (math.exp(half) - 1.0) if log else half


def _one_sided_t(diff: float, se2: float, df: float, greater: bool) -> float:
    """One-sided p of a t test that a change ``diff`` (variance ``se2``, ``df`` degrees of freedom)
    is above zero (below it unless ``greater``)."""
    if not math.isfinite(se2):
        return 1.0
    if se2 == 0:
        return 1.0 if diff == 0 or (diff > 0) != greater else 0.0
    t = diff / math.sqrt(se2) if greater else -diff / math.sqrt(se2)
    from scipy.stats import t as t_dist

    return float(t_dist.sf(t, max(df, 1.0)))


def _satterthwaite(b: tuple[float, float, float], n: tuple[float, float, float]) -> float:
    """Welch-Satterthwaite degrees of freedom of the difference of two side levels."""
    (_, vb, db), (_, vn, dn) = b, n
    se2 = vb + vn
    return se2 ** 2 / ((vb ** 2 / db if vb else 0.0) + (vn ** 2 / dn if vn else 0.0) or 1e-300)


def rounds_p(base_rounds: list[np.ndarray], new_rounds: list[np.ndarray], greater: bool) -> float:
    """One-sided p that ``new`` is larger (smaller) than ``base``, with samples grouped in rounds.

    Load on a shared machine shifts whole rounds, so samples of one round are not independent and a
    per-sample test is over-confident. Each side's mean (of log times) gets the variance its rounds
    support (``_side_level``): per sample when the rounds agree, per round when they scatter; then
    Welch's t with Satterthwaite's degrees of freedom."""
    allpos = all(np.all(np.asarray(r) > 0) for r in (*base_rounds, *new_rounds) if len(r))
    b, n = _side_level(base_rounds, allpos), _side_level(new_rounds, allpos)
    if b is None or n is None:
        return 1.0
    return _one_sided_t(n[0] - b[0], b[1] + n[1], _satterthwaite(b, n), greater)


def aligned(base_rounds: list[np.ndarray], new_rounds: list[np.ndarray]) -> bool:
    """Whether two sides' rounds can be paired: as many rounds a side, round r of each holding as
    many samples. ``ab`` runs the same seeded samples on both sides, round r of A beside round r of
    B (ABBA), so sample i of round r on one side had the same input as on the other."""
    return (len(base_rounds) == len(new_rounds) and len(base_rounds) >= 2
            and all(len(b) == len(n) and len(b) > 0 for b, n in zip(base_rounds, new_rounds)))


PAIRING_LEVEL = 0.9   # quantile of F a ratio must pass before pairing is used (``pairing_pays``)


def pairing_pays(base_rounds: list[np.ndarray], new_rounds: list[np.ndarray], level: float = PAIRING_LEVEL) -> bool:
    """Whether the samples differ from each other by more than their changes scatter, so that
    pairing them removes more noise than the degrees of freedom it costs (``aligned`` rounds).

    Within each round pair, the sum of a sample's two times (log) varies with what the sample is
    (its size) and with the noise; the change (new - base) only with the noise. The ratio of the
    two within-round variances is F-distributed when the samples do not differ, and pairing is
    used above its ``level`` quantile. The sum and the change of two equally noisy measurements
    are independent, so the choice does not depend on the change's direction or size. Measured on
    the power study's pool (docs/ci.md, "Paired rounds"): nlm-sort's sorting problems pass this,
    mlp-demo's and the user model's samples (whose runs, not samples, differ) mostly do not, and
    pairing those had cost them degrees of freedom for nothing."""
    ss_sum = ss_change = 0.0
    dof = 0
    for b, n in _scaled_pairs(base_rounds, new_rounds)[0]:
        total, change = n + b, n - b
        ss_sum += float(((total - total.mean()) ** 2).sum())
        ss_change += float(((change - change.mean()) ** 2).sum())
        dof += len(b) - 1
    if dof < 1 or ss_sum == 0:
        return False
    if ss_change == 0:
        return True
    from scipy.stats import f as f_dist

    return ss_sum / ss_change > float(f_dist.ppf(level, dof, dof))


def _scaled_pairs(base_rounds: list[np.ndarray], new_rounds: list[np.ndarray]
                  ) -> tuple[list[tuple[np.ndarray, np.ndarray]], bool]:
    """Each round pair's (base, new) times, as log times where every time is positive (a slowdown
    multiplies times; their noise is relative), else in seconds; and whether they are logs."""
    log = all(np.all(np.asarray(r) > 0) for r in (*base_rounds, *new_rounds))
    f = np.log if log else (lambda x: np.asarray(x, dtype=float))
    return [(f(b), f(n)) for b, n in zip(base_rounds, new_rounds)], log


def _paired_level(base_rounds: list[np.ndarray], new_rounds: list[np.ndarray]
                  ) -> tuple[tuple[float, float, float], bool]:
    """((mean, variance of that mean, degrees of freedom) of the per-sample change, log scale or not).

    The change of each sample, new over base at the same sample index of the same round pair (log
    ratio where every time is positive, else the difference in seconds), grouped by round as
    ``_side_level`` groups one side's times: per round pair where the pairs scatter beyond their
    samples, else per sample. What the samples themselves differ by (their sizes: nlm-sort's
    sorting problems, LNN's formulas) and what shifts a round pair alike (load over the few
    seconds the two rounds ran side by side) both cancel in the change."""
    pairs, log = _scaled_pairs(base_rounds, new_rounds)
    level = _side_level([n - b for b, n in pairs], log=False)
    assert level is not None   # aligned(): at least two non-empty rounds
    return level, log


def paired_p(base_rounds: list[np.ndarray], new_rounds: list[np.ndarray], greater: bool) -> float:
    """One-sided p that ``new`` is larger (smaller) than ``base``, from the changes of paired samples
    (``aligned`` rounds): a t test of their mean (``_paired_level``), rounds as the units where the
    round pairs disagree beyond their samples."""
    (mean, var, df), _log = _paired_level(base_rounds, new_rounds)
    return _one_sided_t(mean, var, df, greater)


def paired_noise(base_rounds: list[np.ndarray], new_rounds: list[np.ndarray], base_level: float) -> float:
    """~95 % half-width (seconds) of the change from paired samples, scaled like ``rounds_noise``
    (two standard errors, times ``t(0.95, df) / 1.645``)."""
    (_mean, var, df), log = _paired_level(base_rounds, new_rounds)
    return _half_width(var, df, base_level, log)


def pick_test(test: str, n_base: int, n_new: int, alpha: float) -> str:
    """The test ``auto`` means for these sample counts: Mann-Whitney U where its smallest p can
    reach ``alpha`` (it needs no assumption on the shape of the noise), else Welch's t on log times."""
    if test != "auto":
        return test
    return "mannwhitney" if min_one_sided_p(n_base, n_new) < alpha else "welch"


def reachable(test: str, n_base: int, n_new: int, alpha: float, resamples: int = 2000) -> bool:
    """Whether ``test`` can reach ``alpha`` at all with these sample counts."""
    if test == "mannwhitney":
        return min_one_sided_p(n_base, n_new) < alpha
    if test in ("welch", "paired"):
        return n_base >= 2 and n_new >= 2
    return n_base >= 2 and n_new >= 2 and 1.0 / (resamples + 1) < alpha


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
    of a median is 1.2533 sigma / sqrt(n). Below 5 samples a side the IQR of a handful of points
    underestimates sigma (by about a third at 3), so the sample variance is used there. A side of a
    single sample has no spread: the band is infinite (nothing can be said about the change).
    """
    if min(len(base), len(new)) < 2:
        return float("inf") if len(base) and len(new) else float("nan")
    small = min(len(base), len(new)) < 5
    var = 0.0
    for x in (base, new):
        if len(x) > 1:
            if statistic == "median" and not small:
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
