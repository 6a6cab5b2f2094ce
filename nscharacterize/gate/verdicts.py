"""Verdicts: one row per (workload, component, axis, category), and the Comparison that holds them.

A row is a **regression** only when all three hold, as in asv's ``continuous``:

1. the relative change exceeds ``rel_threshold`` (ratio of the per-sample medians, or means),
2. the absolute change exceeds ``abs_floor_s`` (seconds per sample; sub-floor categories are noise),
3. the change is statistically significant over the per-sample values: a one-sided Mann-Whitney U
   test (or a bootstrap of the difference of means) at ``alpha``.

A change that passes 1 and 2 but not 3 is **within noise**. Shifts in category share (points of the
component total) are flagged separately; they fail the gate only with ``fail_on_share_shift``.
With A/B rounds, ``round_check`` also asks a change to be significant with samples grouped by round;
where both sides ran the same samples in as many rounds (``ab``), it tests the change of each round
pair instead (``compare.paired``), with a round-to-round variance shrunk toward what the
comparison's rows share (``stats.shared_prior``).

A gate never passes on no evidence: a row is **inconclusive** when the data cannot tell a change
of ``rel_threshold`` from noise (``decide``): the test cannot reach ``alpha`` with these sample
counts, the one-sided upper bound of the change (observed change plus 1.645 standard errors with
one look, more with several: ``pass_z``; from the per-sample spread or, with rounds, from the
rounds) reaches the threshold, or the CPU
contention of two single runs differs by more than it. Totals (component,
workload, suite) must always be decidable; a category row only when it shows a rise beyond the
threshold. Rows whose threshold-sized change would stay under ``abs_floor_s`` are exempt, unless
they show a rise beyond the threshold and the floor that the test cannot confirm. An inconclusive
gate exits 3 (``fail_on_inconclusive``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from nscharacterize.reports.format import fmt_time
from nscharacterize.taxonomy.categories import CATEGORIES

from .samples import ALL, SUITE, TOTAL, Key
from .settings import CompareSettings
from .stats import (NO_PRIOR, Prior, bootstrap_p, mann_whitney_p, noise, paired_noise, paired_p, pick_test,
                    reachable, round_drift, rounds_noise, rounds_p, spread, welch_log_p)

VERDICTS = ("regressed", "improved", "within noise", "inconclusive", "unchanged", "missing", "added")
EXIT_PASS, EXIT_REGRESSED, EXIT_INCONCLUSIVE = 0, 1, 3


@dataclass
class Row:
    workload: str
    component: str
    axis: str
    category: str
    kind: str
    base_s: float
    new_s: float
    ratio: float
    delta_s: float
    noise_s: float          # ~95 % band of the difference of means, from the per-sample spread
    base_spread: float      # relative per-sample spread (IQR / median) of base and new
    new_spread: float
    p_value: float
    n_base: int
    n_new: int
    round_drift: float | None = None  # largest ratio - 1 between rounds of the same side (A/B runs)
    base_share: float | None = None   # points of the component total (0-100); None on total rows
    new_share: float | None = None
    share_delta: float | None = None
    share_p: float | None = None
    share_flag: bool = False
    test: str = ""                    # the test that gave p_value (``auto`` picks by sample count)
    verdict: str = "unchanged"
    note: str = ""


@dataclass
class Comparison:
    base: str
    new: str
    settings: CompareSettings
    rows: list[Row]
    base_commit: str | None = None
    new_commit: str | None = None
    env_diffs: dict[str, tuple[Any, Any]] = field(default_factory=dict)   # refused keys, allowed anyway
    env_warnings: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    config_diffs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    min_p: float = 0.0       # smallest one-sided p the smallest workload's sample counts allow
    machine: dict[str, list[dict]] = field(default_factory=dict)   # side -> the manifests' machine records

    def count(self, verdict: str) -> int:
        return sum(r.verdict == verdict for r in self.rows)

    @property
    def table(self):
        """The rows as a DataFrame, one column per ``Row`` field (the Python API's view)."""
        import pandas as pd

        return pd.DataFrame([asdict(r) for r in self.rows], columns=[f.name for f in fields(Row)])

    @property
    def share_shifts(self) -> list[Row]:
        return [r for r in self.rows if r.share_flag]

    @property
    def exit_code(self) -> int:
        """0 pass, 1 a regression (or a missing workload, a share shift when asked), 3 inconclusive."""
        if self.count("regressed"):
            return EXIT_REGRESSED
        if self.settings.fail_on_missing and self.count("missing"):
            return EXIT_REGRESSED
        if self.settings.fail_on_share_shift and self.share_shifts:
            return EXIT_REGRESSED
        if self.settings.fail_on_inconclusive and self.count("inconclusive"):
            return EXIT_INCONCLUSIVE
        return EXIT_PASS

    @property
    def status(self) -> str:
        return {EXIT_PASS: "PASS", EXIT_REGRESSED: "FAIL", EXIT_INCONCLUSIVE: "INCONCLUSIVE"}[self.exit_code]

    def reason(self) -> str:
        """One line: why the gate is inconclusive and what to do ('' when it is not)."""
        held = self.undecided()
        if not held:
            return ""
        return (f"{held}; fix: more samples per side (--samples, --rounds), a quieter runner, or a larger "
                f"--rel-threshold")

    def undecided(self) -> str:
        """The first inconclusive row and why, and how many more there are ('' when none): what
        kept this comparison from deciding (``reason``; each look of ``ab`` logs it)."""
        rows = [r for r in self.rows if r.verdict == "inconclusive"]
        if not rows:
            return ""
        worst = rows[0]
        wl = "SUITE" if worst.workload == SUITE else worst.workload
        comp = "total" if worst.component == ALL else worst.component
        more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
        return f"{wl}/{comp}/{worst.category}: {worst.note}{more}"

    def summary(self) -> dict:
        out: dict[str, int | str] = {v: self.count(v) for v in VERDICTS}
        out["share_shifts"] = len(self.share_shifts)
        out["exit_code"] = self.exit_code
        out["status"] = self.status
        out["reason"] = self.reason()
        return out

    def to_dict(self) -> dict:
        return {"schema": 1, "base": self.base, "new": self.new, "base_commit": self.base_commit,
                "new_commit": self.new_commit, "settings": self.settings.model_dump(),
                "summary": self.summary(),
                "env_diffs": {k: list(v) for k, v in self.env_diffs.items()},
                "env_warnings": {k: list(v) for k, v in self.env_warnings.items()},
                "config_diffs": self.config_diffs, "notes": self.notes, "min_p": self.min_p,
                "machine": self.machine,
                "rows": [_jsonable(asdict(r)) for r in self.rows]}


def statistic(s: CompareSettings):
    """The per-sample statistic the gate compares (``median`` or ``mean``), as a numpy function."""
    return np.median if s.statistic == "median" else np.mean


def beyond_threshold(factor: float, s: CompareSettings) -> bool:
    """Whether a factor by which two sides differ (a ratio of times or of contention) is beyond
    the relative threshold, either way."""
    return factor > 1 + s.rel_threshold or factor < 1 / (1 + s.rel_threshold)


def judge(key: Key, b: np.ndarray, n: np.ndarray, bsh, nsh, kind: str, s: CompareSettings) -> Row:
    """The row of one series: statistic, change, noise, p-value, share shift and verdict."""
    wl, comp, axis, cat = key
    stat = statistic(s)
    bm = float(stat(b)) if len(b) else 0.0
    nm = float(stat(n)) if len(n) else 0.0
    delta = nm - bm
    if bm > 0:
        ratio = nm / bm
    else:
        ratio = float("inf") if nm > 0 else 1.0
    greater = delta >= 0
    test = pick_test(s.test, len(b), len(n), s.alpha_look)
    if test == "bootstrap":
        p = bootstrap_p(b, n, greater, s.bootstrap_resamples, statistic=stat)
    elif test == "welch":
        p = welch_log_p(b, n, greater)
    else:
        p = mann_whitney_p(b, n, greater)
    row = Row(wl, comp, axis, cat, kind, bm, nm, ratio, delta, noise(b, n, s.statistic), spread(b), spread(n),
              p, len(b), len(n), test=test)
    row.verdict = _verdict(row, s)
    if not len(b):
        row.note = "category absent in the base run"
    elif not len(n):
        row.note = "category absent in the new run"
    if bsh is not None and nsh is not None and cat != TOTAL:
        row.base_share, row.new_share = float(bsh.mean()), float(nsh.mean())
        row.share_delta = row.new_share - row.base_share
        row.share_p = mann_whitney_p(bsh, nsh, row.share_delta >= 0)
        row.share_flag = abs(row.share_delta) >= s.share_points and row.share_p < s.alpha_look and s.share_points > 0
    return row


def _verdict(row: Row, s: CompareSettings) -> str:
    """The verdict of a row's change and p-value: beyond the threshold and the floor and
    significant at this look's level, a regression or improvement; beyond both but not
    significant, within noise; else unchanged."""
    big = abs(row.ratio - 1.0) >= s.rel_threshold and abs(row.delta_s) >= s.abs_floor_s
    if big and row.p_value < s.alpha_look:
        return "regressed" if row.delta_s > 0 else "improved"
    return "within noise" if big else "unchanged"


def gated(row: Row, s: CompareSettings) -> bool:
    """Whether a threshold-sized change of this row would clear the absolute floor (else it can
    never regress, and noise in it says nothing about the gate)."""
    level = max(row.base_s, row.new_s) if math.isfinite(row.new_s) else row.base_s
    return math.isfinite(level) and level * s.rel_threshold >= s.abs_floor_s


def smallest_regression(row: Row, s: CompareSettings) -> float:
    """The smallest rise (seconds) ``judge`` would call a regression of this row: the threshold's
    share of the base, or the absolute floor where that is larger (with the default 5 us floor, a
    row of 10 us must rise by 5 us, not 2.5 us)."""
    return max(s.rel_threshold * row.base_s, s.abs_floor_s)


Z_PASS = 1.645   # one-sided 95 %: with one look a change of the threshold passes at most 5 % of the time


def upper_bound(row: Row, z: float = Z_PASS) -> float:
    """The one-sided upper bound of the change (seconds): the observed change plus ``z`` standard
    errors (``noise_s`` is two of them; 1.645 with one look, more at each of several looks:
    ``pass_z``). A total passes only when this stays under the smallest regression, an
    equivalence test (as in TOST): the data must rule out a regression-sized rise, not merely
    fail to show one."""
    return row.delta_s + z / 2.0 * row.noise_s


def pass_z(s: CompareSettings) -> float:
    """The standard errors a pass keeps under the threshold at this look (``s.pass_level``)."""
    if s.looks == 1:
        return Z_PASS
    from scipy.stats import norm

    return float(norm.isf(s.pass_level))


def decide(row: Row, s: CompareSettings) -> None:
    """Marks a row 'inconclusive' when its data cannot tell a regression-sized change from noise.

    Called after the verdict and the round check. A total row (component, workload, suite) must
    be decidable whatever it shows; a category row only when it rose beyond the threshold (a
    noisy category that shows nothing is covered by its component's total). A regression that
    survived the test and the round check stands: its evidence is already beyond the noise.

    A total below the floor at a threshold-sized change (``gated`` false) can only regress by the
    floor itself, so it passes when its upper bound rules out a rise of the floor; the test's
    reach does not matter for it (with mlp-demo's 100-300 us components, a single base run that
    ran slow hid a planted 2x behind "unchanged" at +41 % and at -12 % in the power study).
    """
    rise = row.delta_s > 0 and row.verdict == "within noise"
    if row.verdict in ("regressed", "missing", "added", "inconclusive"):
        return   # (inconclusive: a check before this one said why)
    if row.category != TOTAL and not rise:
        return
    # A row below the floor at a threshold-sized change is judged against the floor, unless it
    # shows a rise beyond both that the test cannot confirm: a 2x of a 130 us total adds 130 us,
    # which clears the floor even though 25 % of it would not.
    small = not (gated(row, s) or rise)
    why = ""
    a = s.alpha_look
    z = pass_z(s)
    if small:
        if row.base_s > 0 and math.isfinite(row.noise_s) and not (upper_bound(row, z) <= smallest_regression(row, s)):
            why = (f"{row.ratio - 1:+.0%}{_noise_text(row)}: a rise of {fmt_time(s.abs_floor_s)} (the absolute floor) "
                   "is not ruled out")
    elif not reachable(row.test, row.n_base, row.n_new, a, s.bootstrap_resamples):
        why = (f"{row.n_base} vs {row.n_new} samples: the {row.test} test cannot reach alpha={a:g}")
    elif rise:
        # a rise beyond the threshold and the floor that the test cannot confirm (p >= alpha, e.g.
        # few or scattered samples): not evidence of no change, and more than "not ruled out"
        why = (f"a {row.ratio - 1:+.0%} rise{_noise_text(row)}, beyond the {s.rel_threshold:.0%} threshold, that the "
               f"test cannot confirm (p={row.p_value:.2g} >= alpha={a:g}" + (f"; {row.note}" if row.note else "") + ")")
    elif row.base_s > 0 and not (upper_bound(row, z) <= smallest_regression(row, s)):
        why = f"{row.ratio - 1:+.0%}{_noise_text(row)}: a rise of the {s.rel_threshold:.0%} threshold is not ruled out"
    if why:
        row.verdict = "inconclusive"
        row.note = why


def _noise_text(row: Row) -> str:
    """" ± 31% noise" and the rounds' drift beyond their samples, where known."""
    if not (row.base_s > 0 and math.isfinite(row.noise_s)):
        return ""
    drift = f"; the rounds of one side drift ±{row.round_drift:.0%} beyond their samples" if row.round_drift else ""
    return f" ± {row.noise_s / row.base_s:.0%} noise{drift}"


def contention_check(row: Row, base_c: float, new_c: float, s: CompareSettings) -> None:
    """Single runs (no rounds) and the CPU contention each saw (``machine.contention``: 1 when the
    cores were free for the run). One run per side cannot tell a load spell from a code change:

    - when either run saw contention beyond the threshold (other processes wanted more than the
      spare cores), no verdict of a gated row can be trusted (``distrust``);
    - else, when the two differ by more than the threshold, a change their ratio could explain is
      inconclusive.
    """
    busy = max(base_c, new_c)
    k = new_c / base_c
    if busy > 1 + s.rel_threshold:
        side = "new" if new_c >= base_c else "base"
        distrust(row, f"the {side} run saw CPU contention {busy:.1f} (other processes wanted more than the free "
                      f"cores): single runs cannot tell load from code; use same-job A/B (ab, compare --refs)", s)
        return
    shift_check(row, k, f"the new run saw {k:.2f}x the CPU contention of the base (machine noise)", s)


def shift_check(row: Row, k: float, note: str, s: CompareSettings, *, uneven: bool = False) -> None:
    """Single runs whose sides differ as a whole by the factor ``k`` (their CPU contention, or the
    median component's time): when ``k`` is beyond the threshold, a regression or improvement that
    ``k`` could explain (its ratio over ``k`` within the threshold) and a gated total that looks
    unchanged (a slower base hides a slowdown) are inconclusive with ``note``; a change beyond what
    ``k`` explains stands. ``uneven``: judged category rows are inconclusive whatever their ratio.
    A whole-run drift read from the times moves categories unevenly (in the power study's pool,
    runs 1.45x slower as a whole had an 'other' category 1.9x slower), while component totals
    follow it within 15 %."""
    judged = row.verdict in ("regressed", "improved")   # a verdict, however small the row
    if row.verdict in ("missing", "added") or not (judged or gated(row, s)):
        return
    if not beyond_threshold(k, s):
        return
    if judged and uneven and row.category != TOTAL:
        row.verdict, row.note = "inconclusive", note
    elif judged:
        adjusted = row.ratio / k
        if (row.verdict == "regressed" and adjusted <= 1 + s.rel_threshold) or \
                (row.verdict == "improved" and adjusted >= 1 / (1 + s.rel_threshold)):
            row.verdict, row.note = "inconclusive", note
    elif row.category == TOTAL:
        row.verdict, row.note = "inconclusive", note


def distrust(row: Row, note: str, s: CompareSettings) -> None:
    """One of two single runs ran on a machine busier than its spare cores, so
    no verdict of this row can be trusted: a regression or improvement, however small the row, and
    a gated total that looks unchanged (a slower base hides a slowdown) are inconclusive with
    ``note``."""
    judged = row.verdict in ("regressed", "improved")
    if row.verdict in ("missing", "added") or not (judged or gated(row, s)):
        return
    if judged or row.category == TOTAL:
        row.verdict, row.note = "inconclusive", note


def run_drift(ratios: list[float]) -> float | None:
    """The factor by which two single runs differ as a whole, from the ratios (new / base) of the
    totals of their components: a code change slows the components it touches, a slower machine
    (a noisy neighbour, a lower clock) all of them, pure-Python steps included. Separate runs on
    this machine differed by up to 1.6x as a whole while their load average and contention read
    1.0 (the power study's pool).

    Three components or more: their median, which one changed component does not move. Two: the
    shift both share (the ratio nearer 1 when both moved the same way, else 1), so a change of
    one leaves it near 1. One: None, nothing to tell a change from a drift."""
    finite = [r for r in ratios if math.isfinite(r) and r > 0]
    if len(finite) >= 3:
        return float(np.median(finite))
    if len(finite) == 2:
        a, b = finite
        if (a > 1) != (b > 1):
            return 1.0
        return a if abs(math.log(a)) <= abs(math.log(b)) else b
    return None


def round_check(row: Row, base_rounds: list, new_rounds: list, s: CompareSettings,
                changes: np.ndarray | None = None, prior: Prior = NO_PRIOR) -> None:
    """With A/B rounds: widens the row's noise band to what the rounds support, and downgrades a
    verdict to 'within noise' unless it is significant with the samples grouped in their rounds.

    Load on a shared machine shifts whole rounds, so the samples of one round are not independent
    and a per-sample test is over-confident. Where both sides ran the same samples in as many rounds
    (``ab``; ``compare.paired``), the caller passes the row's round-pair ``changes``
    (``stats.round_changes``) and the comparison's ``prior``, and the row is judged on them
    (``_paired_verdict``).
    Otherwise ``stats.rounds_p`` gives each side's mean the variance its rounds support (per round
    where the rounds scatter beyond their samples, else per sample), and ``stats.rounds_noise`` the
    band of the change from the same variances. ``round_drift`` reports the round effect beyond the
    samples (``stats.round_drift``).
    """
    b = [np.asarray(x) for x in base_rounds if x is not None and len(x)]
    n = [np.asarray(x) for x in new_rounds if x is not None and len(x)]
    if len(b) < 2 or len(n) < 2:
        return
    row.round_drift = max(round_drift(b), round_drift(n))
    if changes is not None:
        _paired_verdict(row, changes, prior, s)
        return
    band = rounds_noise(b, n, row.base_s)
    if not math.isnan(band):
        row.noise_s = max(row.noise_s, band)
    if row.verdict not in ("regressed", "improved"):
        return
    p_rounds = rounds_p(b, n, row.delta_s > 0)
    row.p_value = max(row.p_value, p_rounds)
    if p_rounds >= s.alpha_look:
        row.verdict = "within noise"
        row.note = f"not significant between rounds (p={p_rounds:.2g})"


def _paired_verdict(row: Row, changes: np.ndarray, prior: Prior, s: CompareSettings) -> None:
    """The row judged again on its round pairs (``stats.round_changes``): round r of each side ran
    the same samples, so what they differ by cancels in the pair's change, and the pair, not the
    sample, is the unit, so a run's own shift counts as noise. The t test and band use the row's
    round-to-round variance shrunk toward ``prior`` (``stats.paired_p``, ``stats.paired_noise``).
    This replaces the per-sample test and band of ``judge``.

    (Until 2026-12-05 the pairs were samples, used where a pre-test said the samples differed more
    than their changes scattered, with the samples as units where an F test at 0.05 found no round
    effect: both choices made bands too narrow, and a change of exactly the threshold passed 11-20 %
    of the time instead of at most 5 %; docs/ci.md, "Paired rounds".)"""
    row.test = "paired"
    # On the log scale the band is a factor; the upper bound of a rise applies it to the new level
    # (the base times the estimated ratio), not to the base, where a threshold-sized change would
    # pass 7-8 % of the time instead of 5 % (tests/gate/test_paired.py).
    row.noise_s = paired_noise(changes, prior, row.base_s * float(np.exp(changes.mean())))
    row.p_value = paired_p(changes, prior, row.delta_s > 0)
    row.verdict = _verdict(row, s)


def missing_row(wl: str, values: dict, verdict: str, note: str, component: str = ALL) -> Row:
    """The total row of a workload (or of one component of a workload both runs have) present on
    one side only ('missing' or 'added'): its time there, and no verdict on a change that cannot be
    measured."""
    tot = values.get((wl, component, "category", TOTAL), np.zeros(0))
    m = float(tot.mean()) if len(tot) else float("nan")
    base_s, new_s = (m, float("nan")) if verdict == "missing" else (float("nan"), m)
    return Row(wl, component, "category", TOTAL, "", base_s, new_s, float("nan"), float("nan"), float("nan"),
               float("nan"), float("nan"), float("nan"), len(tot) if verdict == "missing" else 0,
               len(tot) if verdict == "added" else 0, verdict=verdict, note=note)


def row_order(r: Row) -> tuple:
    """Workloads by name (suite last), components (totals last), categories in the study's order."""
    cat_rank = CATEGORIES.index(r.category) if r.category in CATEGORIES else (
        len(CATEGORIES) + 1 if r.category == TOTAL else len(CATEGORIES))
    return (r.workload == SUITE, r.workload, r.component == ALL, r.component, r.axis != "category", r.axis,
            cat_rank, r.category)


def _jsonable(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None if math.isnan(v) else ("inf" if v > 0 else "-inf")
        else:
            out[k] = v
    return out
