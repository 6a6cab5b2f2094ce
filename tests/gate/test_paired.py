"""Paired rounds in A/B comparisons (``compare.paired``): `ab` runs the same seeded samples on both
sides, round r of A beside round r of B, so each round pair gives one change per row in which what
the samples differ by cancels (nlm-sort's sorting problems, LNN's formulas: 3.1 or 4.7 ms by
sample), and a run's own shift counts as noise. A row's round-to-round variance is shrunk toward
what the comparison's rows share (``stats.shared_prior``, empirical Bayes), which gives the few
round pairs of a look the degrees of freedom the rows hold together."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from gate_fakes import make_run

from nscharacterize.gate.abrun import merge_runs
from nscharacterize.gate.compare import compare_runs
from nscharacterize.gate.settings import CompareSettings
from nscharacterize.gate.stats import (NO_PRIOR, Prior, aligned, paired_noise, paired_p, round_changes, rounds_noise,
                                       rounds_p, shared_prior)
from nscharacterize.gate.verdicts import Z_PASS

SIZES = [1.0, 6.0, 2.5, 9.0, 1.5, 4.0]          # sample i is this many times sample 0, in every run
ENCODER = [("mlp-demo", "encoder", c) for c in ("gemm", "sparse_mm", "elementwise", "embedding", "data_movement",
                                                "data_transform", "other")]


def _rounds(rng, factor: float = 1.0, rounds: int = 3) -> list[np.ndarray]:
    return [1e-3 * np.array(SIZES) * factor * rng.lognormal(0.0, 0.04, len(SIZES)) for _ in range(rounds)]


def test_round_pairs_resolve_a_change_that_sample_sizes_hide_from_the_unpaired_test():
    rng = np.random.default_rng(7)
    base, new = _rounds(rng), _rounds(rng, 1.3)
    changes = round_changes(base, new)
    assert changes is not None and len(changes) == 3
    assert abs(float(changes.mean()) - np.log(1.3)) < 0.05
    assert rounds_p(base, new, greater=True) > 0.05          # 1.3x lost among samples 1-9 ms apart
    assert paired_p(changes, NO_PRIOR, greater=True) < 0.01   # its own 2 degrees of freedom
    shared = Prior(dof=30, variance=float(np.var(changes, ddof=1)), rows=10)
    assert paired_p(changes, shared, greater=True) < 1e-6     # what 10 rows of the run hold together
    level = float(np.median(np.concatenate(base)))
    assert paired_noise(changes, shared, level) < rounds_noise(base, new, level) / 5
    assert paired_p(changes, shared, greater=False) > 0.99    # one-sided: no improvement in a slowdown


def test_rounds_pair_only_when_both_sides_ran_the_same_samples_in_as_many_rounds():
    rng = np.random.default_rng(1)
    three = _rounds(rng)
    assert not aligned(three, three[:2])                                        # rounds differ
    assert not aligned(three, [three[0], three[1], three[2][:4]])               # a round's samples differ
    assert not aligned(three[:1], three[:1])                                    # one round: nothing to group
    assert round_changes(three, three[:2]) is None
    assert round_changes(three, [three[0], three[1], np.r_[three[2][:5], 0.0]]) is None   # a zero time: no log


def test_the_prior_is_worth_much_where_rows_agree_and_little_where_they_do_not():
    rng = np.random.default_rng(5)
    equal = [float(np.var(rng.normal(0, 0.1, 4), ddof=1)) for _ in range(40)]
    pooled = shared_prior(equal, [3] * 40)
    assert pooled.dof > 40 and abs(pooled.variance - 0.01) < 0.004            # one variance, scattered by chance
    assert pooled.dof <= 39 * 3                                                # never beyond the other rows' df
    spread = [float(np.var(rng.normal(0, s, 4), ddof=1)) for s in np.geomspace(0.01, 1.0, 40)]
    assert shared_prior(spread, [3] * 40).dof < 5                              # rows 100x apart: little to share
    assert shared_prior(equal[:2], [3, 3]) == NO_PRIOR                          # too few rows to say


def _h0_rate(rng, d0: float, rows: int = 30, rounds: int = 3, trials: int = 150, level: float = 0.05) -> float:
    """How often the moderated test calls a change at ``level`` when there is none, for rows whose
    true round-to-round variances scatter as a prior of ``d0`` degrees of freedom says."""
    hits = total = 0
    for _ in range(trials):
        true_var = 0.02 * d0 / rng.chisquare(d0, rows)
        changes = [rng.normal(0.0, np.sqrt(v), rounds) for v in true_var]
        prior = shared_prior([float(np.var(c, ddof=1)) for c in changes], [rounds - 1] * rows)
        hits += sum(paired_p(c, prior, greater=True) < level for c in changes)
        total += rows
    return hits / total


def test_the_moderated_test_keeps_its_level_whether_rows_are_alike_or_not():
    """Smyth's point: shrinking toward the prior keeps the t test's size, whatever the prior."""
    rng = np.random.default_rng(11)
    for d0 in (3.0, 30.0):
        rate = _h0_rate(rng, d0)
        assert 0.03 < rate < 0.07, (d0, rate)


def test_a_threshold_sized_change_rarely_passes():
    """The pass rule (observed change + 1.645 standard errors under the threshold) lets a change of
    exactly the threshold pass at most ~5 % of the time: the band is as wide as the rounds say."""
    rng = np.random.default_rng(13)
    passed = total = 0
    for _ in range(300):
        true_var = 0.01 * 4 / rng.chisquare(4, 12)
        changes = [rng.normal(np.log(1.25), np.sqrt(v), 4) for v in true_var]
        prior = shared_prior([float(np.var(c, ddof=1)) for c in changes], [3] * 12)
        for c in changes:
            half = paired_noise(c, prior, float(np.exp(c.mean())))   # at the new level, as _paired_verdict
            passed += np.exp(c.mean()) - 1 + Z_PASS / 2 * half < 0.25
            total += 1
    assert passed / total < 0.07, passed / total


def _side(tmp: Path, name: str, seed: int, scale=None, rounds: int = 2) -> Path:
    return merge_runs([make_run(tmp / f"{name}{i}", seed=seed + i, n=6, noise=0.03, sizes=SIZES, scale=scale)
                       for i in range(rounds)], tmp / name, name)


def test_a_paired_gate_fails_a_regression_the_unpaired_gate_cannot_decide_and_passes_unchanged_code(tmp_path):
    base = _side(tmp_path, "A", seed=10)
    slower = _side(tmp_path, "B", seed=20, scale={k: 1.5 for k in ENCODER})
    paired = compare_runs(base, slower)
    row = next(r for r in paired.rows if (r.component, r.category) == ("encoder", "total"))
    assert row.test == "paired" and row.verdict == "regressed", row
    assert paired.exit_code == 1
    assert any(n.startswith("paired rounds: ") and "degrees of freedom" in n for n in paired.notes)
    from nscharacterize.gate.formats import render_terminal
    assert "round pairs' log changes" in render_terminal(paired)
    unpaired = compare_runs(base, slower, CompareSettings(paired=False))
    assert unpaired.count("regressed") == 0 and unpaired.exit_code == 3    # sizes 1-9x swamp a 1.5x
    same = _side(tmp_path, "C", seed=30)
    assert compare_runs(base, same).exit_code == 0


def test_single_runs_are_not_paired(tmp_path):
    """One run a side (baseline mode): no rounds to pair, the per-sample test as before."""
    a = make_run(tmp_path / "a", seed=1, n=6, sizes=SIZES)
    b = make_run(tmp_path / "b", seed=2, n=6, sizes=SIZES)
    assert {r.test for r in compare_runs(a, b).rows} <= {"mannwhitney", "welch", ""}


def test_a_comparison_without_a_prior_says_so(tmp_path, monkeypatch):
    """Fewer than three rows with a round-to-round variance (rows whose rounds hold zero times drop
    out) leave no prior: each row's own round pairs set its variance, and the note says so."""
    from nscharacterize.gate import compare

    base, new = _side(tmp_path, "A", seed=10, rounds=3), _side(tmp_path, "B", seed=20, rounds=3)
    assert any("share a prior worth" in n for n in compare_runs(base, new).notes)
    monkeypatch.setattr(compare, "shared_prior", lambda variances, dofs: NO_PRIOR)
    cmp = compare_runs(base, new)
    assert any("too few rows vary to share a prior" in n for n in cmp.notes), cmp.notes
    assert {r.test for r in cmp.rows if r.category == "total"} == {"paired"}
