"""Exclusive attribution: categories add up to the unprofiled wall time, on a real module."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from nscharacterize.profiler.session import SessionSettings, profile_workload
from nscharacterize.attribution.aggregate import attribute, breakdown
from nscharacterize.taxonomy.categories import CATEGORIES
from nscharacterize.taxonomy.classifier import Taxonomy
from nscharacterize.workloads.base import Component, Workload, module_workload
from nscharacterize.workloads.registry import get_spec


def _profile(workload, samples=2):
    prof = profile_workload(workload, workload.name, SessionSettings(samples=samples, warmup=1, repeats=2))
    att = attribute(Taxonomy().classify_events(prof.events), prof.timings)
    return prof, att


def test_categories_add_up_to_wall_time_on_a_real_module():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 14 * 14, 10))
    prof, att = _profile(module_workload("cnn", model, lambda i: torch.randn(2, 3, 16, 16)), samples=3)
    s = att.samples
    cat = s[s["axis"] == "category"].groupby(["component", "sample"])["time_s"].sum()
    wall = prof.timings.set_index(["component", "sample"])["wall_s"]
    np.testing.assert_allclose(cat.loc[wall.index].to_numpy(), wall.to_numpy(), rtol=1e-9)
    assert (att.checks["addup_error_s"] <= 1e-9 * att.checks["wall_s"]).all()
    other = s[(s["axis"] == "category") & (s["category"] == "other")].set_index(["component", "sample"])["time_s"]
    split = s[s["axis"] == "other_split"].groupby(["component", "sample"])["time_s"].sum()
    np.testing.assert_allclose(other.loc[split.index], split, rtol=1e-9)
    bd = breakdown(s)
    shares = bd[bd["axis"] == "category"].groupby("component")["share"].sum()
    np.testing.assert_allclose(shares, 1.0, rtol=1e-9)
    by = bd[bd["axis"] == "category"].set_index("category")["time_s"]
    assert by["conv"] > 0 and by["gemm"] > 0 and list(bd[bd["axis"] == "category"]["category"]) == list(CATEGORIES)


def test_python_axis_adds_up_for_cprofile_components():
    spec = get_spec("mlp-demo")
    _prof, att = _profile(spec.build(spec.smoke, seed=0))
    s = att.samples
    py = s[(s["axis"] == "python") & (s["component"] == "reasoner")].groupby("sample")["time_s"].sum()
    tot = s[(s["axis"] == "total") & (s["component"] == "reasoner")].set_index("sample")["time_s"]
    np.testing.assert_allclose(py.loc[tot.index], tot, rtol=1e-9)


def test_ops_seen_on_every_path_and_scaling_matches_overhead():
    spec = get_spec("mlp-demo")
    prof, att = _profile(spec.build(spec.smoke, seed=0))
    ev = prof.events
    assert {"op", "python"} <= set(ev["source"])
    sparse = ev[ev["ancestors"].str.contains("_sparse_addmm", regex=False)]
    assert len(sparse) > 0
    checks = att.checks.set_index(["component", "sample"])
    t = prof.timings.set_index(["component", "sample"])
    unclamped = ~checks["clamped"]
    np.testing.assert_allclose(checks.loc[unclamped, "scale"], (t["wall_s"] / t["profiled_wall_s"])[unclamped])


def test_pipeline_passes_outputs_between_components():
    seen = []
    wl = Workload("chain", [Component("a", lambda x: x + 1), Component("b", lambda x: seen.append(x) or x * 2)],
                  lambda n: list(range(n)))
    prof = profile_workload(wl, "chain", SessionSettings(samples=2, warmup=0, repeats=1))
    assert set(seen) == {1, 2} and len(prof.timings) == 4
    assert isinstance(prof.timings, pd.DataFrame)


def test_peak_memory_is_a_peak_not_a_total():
    from nscharacterize.profiler.torch_backend import TorchSettings, capture

    def loop(_):
        for _ in range(10):
            x = torch.ones(1_000_000)  # 4 MB allocated and dropped every iteration
            y = x * 2
        return y.sum()

    cap = capture(loop, None, "cpu", TorchSettings())
    assert 8e6 <= cap.peak_mem_bytes <= 16.1e6   # two or three 4 MB buffers live at once, never 80 MB
