"""CUDA paths: kernel-level events, memcpy as data movement, add-up on the device. Skipped without a GPU."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from clirun import cuda, printed_dir, run_cli, write_config

from nscharacterize.attribution.aggregate import attribute
from nscharacterize.profiler.session import SessionSettings, profile_workload
from nscharacterize.taxonomy.classifier import Taxonomy
from nscharacterize.workloads.base import Component, Workload
from nscharacterize.workloads.registry import get_spec

pytestmark = [cuda, pytest.mark.cuda]


def test_kernels_recorded_and_memcpy_is_data_movement():
    lin = torch.nn.Linear(256, 256).cuda().eval()

    def step(x):
        with torch.no_grad():
            y = lin(x.cuda())           # host-to-device copy, then a GEMM kernel
            return (y.relu() + 1).cpu()  # element-wise kernels, device-to-host copy

    wl = Workload("gpu", [Component("step", step)], lambda n: [torch.randn(64, 256) for _ in range(n)])
    prof = profile_workload(wl, "gpu", SessionSettings(samples=2, warmup=1, repeats=2, device="cuda"))
    ev = Taxonomy().classify_events(prof.events)
    kernels = ev[ev["source"] == "kernel"]
    assert len(kernels) > 0 and (kernels["self_device_us"] > 0).all()
    memcpy = kernels[kernels["name"].str.contains("Memcpy", case=False)]
    assert len(memcpy) > 0 and set(memcpy["category"]) == {"data_movement"}
    assert "gemm" in set(kernels["category"])
    att = attribute(ev, prof.timings)
    assert (att.checks["addup_error_s"] <= 1e-9 * att.checks["wall_s"]).all()


def test_cli_run_on_cuda(tmp_path):
    spec = get_spec("mlp-demo")
    cfg = write_config(tmp_path / "gpu.yaml", device="cuda", workloads=[{"workload": "mlp-demo", "params": spec.smoke}])
    proc = run_cli("run", str(cfg), "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 0, proc.stderr
    run_dir = printed_dir(proc)
    manifest = json.loads(open(f"{run_dir}/manifest.json").read())
    assert manifest["fingerprint"]["device"] == "cuda" and manifest["fingerprint"]["device_name"]
    ev = pd.read_parquet(f"{run_dir}/events.parquet")
    assert (ev["source"] == "kernel").any()


def test_peak_memory_is_what_the_call_adds_and_weights_are_resident():
    weights = torch.zeros(64, 1024, 1024, device="cuda")   # 256 MiB resident before every call

    def step(x):
        y = torch.ones(16, 1024, 1024, device="cuda")      # 64 MiB allocated by the call
        return (y.sum() + weights[0, 0, 0] + x).cpu()

    wl = Workload("mem", [Component("step", step)], lambda n: [torch.zeros(1) for _ in range(n)])
    prof = profile_workload(wl, "mem", SessionSettings(samples=1, warmup=1, repeats=1, device="cuda"))
    t = prof.timings.iloc[0]
    assert 64 * 2**20 <= t["peak_mem_bytes"] < 256 * 2**20          # the call's own tensor, not the weights
    assert t["resident_mem_bytes"] >= 256 * 2**20
    assert t["kernel_launches"] >= 1 and t["median_kernel_us"] > 0
    weights = None    # frees the 256 MiB before the next test


def test_views_add_up_on_a_live_cuda_run():
    lin = torch.nn.Linear(256, 256).cuda().eval()

    def step(x):
        with torch.no_grad():
            return lin(x.cuda()).relu().cpu()

    wl = Workload("gpu", [Component("step", step)], lambda n: [torch.randn(64, 256) for _ in range(n)])
    prof = profile_workload(wl, "gpu", SessionSettings(samples=2, warmup=1, repeats=2, device="cuda"))
    att = attribute(Taxonomy().classify_events(prof.events), prof.timings)
    s = att.samples
    wall = prof.timings.set_index("sample")["wall_s"]
    for axis in ("category", "device", "bound", "bound_split"):
        sums = s[s["axis"] == axis].groupby("sample")["time_s"].sum()
        assert len(sums) == 2 and ((sums - wall.loc[sums.index]).abs() <= 1e-9 * wall.loc[sums.index]).all(), axis
    assert (prof.events["gpu_busy_us"] > 0).any() and (prof.events["gpu_idle_self_us"] > 0).any()
