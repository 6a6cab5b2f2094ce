"""The gate's statistics: one-sided significance tests, the noise band, and step detection.

Pure functions of arrays (no files, no settings objects), as in asv, where the statistics live
apart from the commands that use them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Prior:
    """What the rows' round-to-round variances of one comparison scatter around (``shared_prior``):
    a variance (of one round pair's change, log scale) worth ``dof`` degrees of freedom."""
    dof: float
    variance: float
    rows: int


NO_PRIOR = Prior(0.0, float("nan"), 0)


def round_changes(base_rounds: list[np.ndarray], new_rounds: list[np.ndarray]) -> np.ndarray | None:
    """Per round pair, the change of a row: mean log time of round r of ``new`` minus that of round
    r of ``base``; None unless the rounds are ``aligned`` and every time is positive.

    Both sides of ``ab`` ran the same seeded samples in round r, so what the samples differ by (their
    sizes) cancels in the difference of the two means, as in a paired test; and the round pair is
    the unit, so what shifts a whole run (its process, the load while it ran) is counted as noise,
    not hidden by the samples' own agreement."""
    if not aligned(base_rounds, new_rounds):
        return None
    if not all(np.all(np.asarray(r) > 0) for r in (*base_rounds, *new_rounds)):
        return None
    return np.array([float(np.log(n).mean() - np.log(b).mean()) for b, n in zip(base_rounds, new_rounds)])


def shared_prior(variances: list[float], dofs: list[float]) -> Prior:
    """The prior of the rows' round-to-round variances, by Smyth's moments of log variances (the
    empirical Bayes of limma, Smyth 2004: Stat. Appl. Genet. Mol. Biol. 3(1), art. 3).

    With 3 round pairs a row's own variance has 2 degrees of freedom, and a t test at the gate's
    alpha needs t > 22; rows of one run share its machine, so their variances say much about each
    other. How much is measured: the scatter of the rows' log variances beyond what their own
    degrees of freedom explain sets ``dof`` (very unequal rows: little; equal rows: much), capped at
    the degrees of freedom of the other rows together (a prior cannot know more than they hold).
    NO_PRIOR below three rows with a variance."""
    from scipy.optimize import brentq
    from scipy.special import digamma, polygamma

    usable = [(v, d) for v, d in zip(variances, dofs) if d >= 1 and 0 < v < math.inf]
    if len(usable) < 3:
        return NO_PRIOR
    var = np.array([v for v, _ in usable])
    dof = np.array([d for _, d in usable], dtype=float)
    e = np.log(var) - digamma(dof / 2) + np.log(dof / 2)
    excess = float(np.var(e, ddof=1)) - float(np.mean(polygamma(1, dof / 2)))
    cap = float(dof.sum() - dof.max())
    d0 = cap if excess <= 0 else min(2.0 * brentq(lambda y: float(polygamma(1, y)) - excess, 1e-8, 1e8), cap)
    s0 = math.exp(float(e.mean()) + float(digamma(d0 / 2)) - math.log(d0 / 2))
    return Prior(d0, s0, len(usable))


def _moderated_level(changes: np.ndarray, prior: Prior) -> tuple[float, float, float]:
    """(mean change, variance of that mean, degrees of freedom): the row's round-to-round variance
    shrunk toward the prior, ``(d0 s0^2 + d s^2) / (d0 + d)`` with ``d0 + d`` degrees of freedom."""
    r = len(changes)
    d = r - 1
    s2 = float(np.var(changes, ddof=1))
    if prior.dof > 0 and math.isfinite(prior.variance):
        s2 = (prior.dof * prior.variance + d * s2) / (prior.dof + d)
    return float(changes.mean()), s2 / r, float(prior.dof + d)


def paired_p(changes: np.ndarray, prior: Prior, greater: bool) -> float:
    """One-sided p that the round pairs' mean change (``round_changes``) is above zero (below it
    unless ``greater``), with the moderated variance."""
    mean, var, df = _moderated_level(changes, prior)
    return _one_sided_t(mean, var, df, greater)


def paired_noise(changes: np.ndarray, prior: Prior, base_level: float) -> float:
    """~95 % half-width (seconds) of the change from the round pairs, scaled like ``rounds_noise``
    (two standard errors, times ``t(0.95, df) / 1.645``)."""
    _mean, var, df = _moderated_level(changes, prior)
    return _half_width(var, df, base_level, True)


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
