"""The spooled sample loop (nscharacterize/profiler/spool.py) gives the rows a profile per call
gives: same keys, calls, flops and bytes, in the same order, the same timings columns, and the
samples handed over in batches; a stop mid-loop still hands over every finished sample."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from nscharacterize.profiler import session
from nscharacterize.profiler.events import KEY
from nscharacterize.profiler.session import SessionSettings, profile_workload
from nscharacterize.profiler.spool import Spool, _peak_in_window
from nscharacterize.profiler.torch_compat import events_are_lazy
from nscharacterize.workloads import registry
from nscharacterize.workloads.base import Component, Workload

EXACT = KEY + ["calls", "flops", "bytes"]
# torch < 2.4 builds every event object when a profile stops, so a CPU run parses each sample as
# it ends and never spools (session._spool_usable)
spooling = pytest.mark.skipif(not events_are_lazy(), reason="torch < 2.4: no spool, each sample parsed as it ends")
FACTS = ["workload", "component", "kind", "profiler", "device", "sample", "repeats", "kernel_launches",
         "median_kernel_us"]


def _profile(name: str, params: dict, samples: int, spool: Spool | None):
    workload = registry.build(name, params, 0)
    got: list = []
    profile_workload(workload, "w", SessionSettings(samples=samples, warmup=1, repeats=1),
                     on_sample=lambda i, e, t: got.append((i, e, t)), spool=spool)
    return got


@spooling
@pytest.mark.parametrize("name,params", [("mlp-demo", {"objects": 6, "hidden": 16}),   # torch + cProfile
                                         ("ltn", {"individuals": 8, "hidden": 8})])
def test_spooled_rows_equal_rows_per_call(tmp_path, monkeypatch, name, params):
    torch.set_num_threads(1)
    monkeypatch.setattr(session, "BATCH_SECONDS", 3600.0)   # one batch, whatever the machine's speed
    alone = _profile(name, params, 3, None)
    spool = Spool(tmp_path / "spool")
    batched = _profile(name, params, 3, spool)
    assert [i for i, _e, _t in alone] == [0, 1, 2]
    assert [i for i, _e, _t in batched] == [2]          # one hand-over: the batch
    a = pd.concat([e for _i, e, _t in alone], ignore_index=True)
    b = pd.concat([e for _i, e, _t in batched], ignore_index=True)
    assert a[EXACT].astype(str).equals(b[EXACT].astype(str))
    assert (b["self_cpu_us"] >= 0).all() and b["self_cpu_us"].sum() > 0
    ta = pd.concat([t for _i, _e, t in alone], ignore_index=True)
    tb = pd.concat([t for _i, _e, t in batched], ignore_index=True)
    assert list(ta.columns) == list(tb.columns)
    pd.testing.assert_frame_equal(ta[FACTS], tb[FACTS], check_dtype=False)
    # Peak memory: a profile per call also subtracts frees of blocks an earlier profiled call
    # allocated (torch's CPU allocator remembers their sizes across sessions), so its value depends
    # on what ran before; the spooled one counts the call's own blocks only: never less.
    pa, pb = ta["peak_mem_bytes"].to_numpy(), tb["peak_mem_bytes"].to_numpy()
    assert ((pb >= pa) | (np.isnan(pa) & np.isnan(pb))).all(), (pa, pb)
    assert (tb["profiled_wall_s"] > 0).all() and (tb["wall_s"] > 0).all()
    assert spool.pending() == [] and not list(spool.path.glob("*.json"))   # parsed and removed


@spooling
def test_stop_mid_loop_hands_over_the_finished_samples(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    calls = {"n": 0}

    def net(x):
        return torch.relu(x @ x)

    def stopping(x):
        calls["n"] += 1
        if calls["n"] == 5:   # the unprofiled pass of the third sample (warm-up 0, 1 repeat)
            raise KeyboardInterrupt
        return x.sum()

    workload = Workload(name="stops", components=[Component("net", net, kind="neural", profiler="torch"),
                                                 Component("stop", stopping, kind="symbolic", profiler="torch")],
                        make_samples=lambda n: [torch.randn(4, 4) for _ in range(n)])
    got: list = []
    spool = Spool(tmp_path / "spool")
    monkeypatch.setattr(session, "BATCH_SECONDS", 3600.0)
    with pytest.raises(KeyboardInterrupt):
        profile_workload(workload, "w", SessionSettings(samples=5, warmup=0, repeats=1),
                         on_sample=lambda i, e, t: got.append((i, e, t)), spool=spool)
    assert [i for i, _e, _t in got] == [1]
    assert set(got[0][2]["sample"]) == {0, 1} and set(got[0][1]["sample"]) == {0, 1}
    assert spool.pending() == []


def test_peak_in_window_ignores_frees_of_older_blocks():
    sizes = np.array([-100.0, 64.0, 32.0, -64.0, 16.0, -32.0, -16.0])
    addrs = np.array([9, 1, 2, 1, 3, 2, 3])
    assert _peak_in_window(sizes, addrs) == 96.0      # the free of block 9 (older) is not the call's
    assert _peak_in_window(np.zeros(0), np.zeros(0)) == 0.0
