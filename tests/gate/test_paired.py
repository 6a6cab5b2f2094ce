"""Paired samples in A/B rounds (``compare.paired``): `ab` runs the same seeded samples on both sides,
round r of A beside round r of B, so each sample's change is measured against its twin. Where the
samples differ in size (nlm-sort's sorting problems, LNN's formulas: 3.1 or 4.7 ms by sample), the
unpaired test counts those differences as noise and cannot decide; the paired one can."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from gate_fakes import make_run

from nscharacterize.gate.abrun import merge_runs
from nscharacterize.gate.compare import compare_runs
from nscharacterize.gate.settings import CompareSettings
from nscharacterize.gate.stats import aligned, paired_noise, paired_p, pairing_pays, rounds_noise, rounds_p

SIZES = [1.0, 6.0, 2.5, 9.0, 1.5, 4.0]          # sample i is this many times sample 0, in every run
ENCODER = [("mlp-demo", "encoder", c) for c in ("gemm", "sparse_mm", "elementwise", "embedding", "data_movement",
                                                "data_transform", "other")]


def _rounds(rng, factor: float = 1.0, rounds: int = 3) -> list[np.ndarray]:
    return [1e-3 * np.array(SIZES) * factor * rng.lognormal(0.0, 0.04, len(SIZES)) for _ in range(rounds)]


def test_pairing_resolves_a_change_that_sample_sizes_hide_from_the_unpaired_test():
    rng = np.random.default_rng(7)
    base, new = _rounds(rng), _rounds(rng, 1.3)
    assert aligned(base, new)
    assert rounds_p(base, new, greater=True) > 0.05          # 1.3x lost among samples 1-9 ms apart
    assert paired_p(base, new, greater=True) < 1e-6
    level = float(np.median(np.concatenate(base)))
    assert paired_noise(base, new, level) < rounds_noise(base, new, level) / 5
    assert paired_p(base, new, greater=False) > 0.99          # one-sided: no improvement in a slowdown


def test_rounds_pair_only_when_both_sides_ran_the_same_samples_in_as_many_rounds():
    rng = np.random.default_rng(1)
    three = _rounds(rng)
    assert not aligned(three, three[:2])                                        # rounds differ
    assert not aligned(three, [three[0], three[1], three[2][:4]])               # a round's samples differ
    assert not aligned(three[:1], three[:1])                                    # one round: nothing to group


def test_samples_pair_only_where_they_differ_by_more_than_their_changes_scatter():
    rng = np.random.default_rng(3)
    assert pairing_pays(_rounds(rng), _rounds(rng, 1.3))                     # sizes 1-9x: pair
    same = [np.full(6, 1e-3)] * 3                                            # samples alike, only noise:
    noisy = [lambda: 1e-3 * rng.lognormal(0.0, 0.1, 6) for _ in range(3)]    # the same F either way
    paid = sum(pairing_pays([f() for f in noisy], [f() * 1.5 for f in noisy]) for _ in range(200))
    assert paid < 200 * 0.2, paid                                            # ~10 % (the 0.9 quantile)
    assert not pairing_pays(same, same)


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
    assert any(n.startswith("paired samples: ") for n in paired.notes)
    from nscharacterize.gate.formats import render_terminal
    assert "paired t on the log ratios of twin samples" in render_terminal(paired)
    unpaired = compare_runs(base, slower, CompareSettings(paired=False))
    assert unpaired.count("regressed") == 0 and unpaired.exit_code == 3    # sizes 1-9x swamp a 1.5x
    same = _side(tmp_path, "C", seed=30)
    assert compare_runs(base, same).exit_code == 0


def test_rounds_of_samples_alike_are_judged_unpaired(tmp_path):
    """Samples of one size (only noise between them): pairing would cost degrees of freedom for nothing."""
    base = merge_runs([make_run(tmp_path / f"a{i}", seed=40 + i, n=6) for i in range(2)], tmp_path / "A", "A")
    new = merge_runs([make_run(tmp_path / f"b{i}", seed=50 + i, n=6) for i in range(2)], tmp_path / "B", "B")
    tests = {r.test for r in compare_runs(base, new).rows if r.category == "total"}
    assert "paired" not in tests and tests, tests


def test_single_runs_are_not_paired(tmp_path):
    """One run a side (baseline mode): no rounds to pair, the per-sample test as before."""
    a = make_run(tmp_path / "a", seed=1, n=6, sizes=SIZES)
    b = make_run(tmp_path / "b", seed=2, n=6, sizes=SIZES)
    assert {r.test for r in compare_runs(a, b).rows} <= {"mannwhitney", "welch", ""}
