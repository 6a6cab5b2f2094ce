"""The ground-truth suite (benchmarks/ground_truth.py) at its small size, so it cannot rot.

What is asserted is what holds on any machine, however loaded: every regime is measured, the
true shares and every compensation's reported shares add up to the unprofiled wall, and the
table and summary render. How close the reported shares come to the truth is the benchmark's
output (docs/measurement.md), not a test: on two shared cores a sub-millisecond component's
error moves by several points from one run to the next."""
from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
import torch

from clirun import ROOT

from nscharacterize.profiler.torch_compat import events_are_lazy


@pytest.fixture(scope="module")
def ground_truth():
    spec = importlib.util.spec_from_file_location("ground_truth", ROOT / "benchmarks" / "ground_truth.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ground_truth"] = module          # its dataclasses resolve their annotations there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("ground_truth", None)


def test_every_regime_is_measured_and_every_share_adds_up(ground_truth):
    threads = torch.get_num_threads()
    try:
        results, compensation, notes = ground_truth.run(small=True, min_rounds=1, max_rounds=1)
    finally:
        torch.set_num_threads(threads)
    assert set(results["regime"]) == {"one big op among many small", "many small ops of several categories",
                                      "nested ops", "a Python loop around ops",
                                      "cProfile: Python functions of known cost"}
    for _comp, grp in results.groupby("component"):
        assert grp["true_%"].sum() == pytest.approx(100.0, abs=1e-6)
        for col in ("proportional_%", "per_event_%"):   # the table leaves out categories under 0.5 % in every round
            assert 100.0 - 0.5 * 9 <= grp[col].sum() <= 100.0 + 1e-6, col
    assert np.isfinite(results[[c for c in results if c.endswith("_err")]].to_numpy()).all()
    # torch 2.3 times ops in whole microseconds: a near-empty op's measured cost is about 0 there
    assert (compensation["torch"]["in_us"] > 0 or not events_are_lazy()) and len(notes) == 5
    text = ground_truth.markdown(results) + ground_truth.summary(results)
    assert "per_event" in text and "gemm" in text


def test_truth_of_a_part_takes_its_bindings_off(ground_truth):
    comp = ground_truth.many_small_mixed(4)
    assert [p.binding_calls for p in comp.parts] == [0, 4, 4, 4]      # neg is timed through _foreach_neg
    assert comp.parts[0].inop is not None
    assert ground_truth.binding_us(20) >= 0.0
