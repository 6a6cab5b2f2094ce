"""Memory and sparsity per category at dispatch level, on ops whose answer is known."""
from __future__ import annotations

import subprocess
import sys

import torch

from nscharacterize.profiler.opmetrics import OpMetricsMode, measure_workload
from nscharacterize.taxonomy.classifier import Taxonomy
from nscharacterize.workloads.base import Component, Workload


def classify(name: str) -> str:
    rule = Taxonomy().first_match("ops", name, source="op")
    return rule.category if rule else "other"


def test_relu_of_known_input_has_known_sparsity():
    x = torch.tensor([[-1.0, 2.0, -3.0, 4.0], [0.5, -0.5, 0.0, 1e-9]])
    with OpMetricsMode(classify, sparsity=True, tolerance=1e-6) as mode:
        torch.relu(x)
    m = mode.finish()
    n, zeros, near = m.sparsity[("elementwise", "output")]
    assert (n, zeros, near) == (8, 4, 5)               # -1, -3, -0.5 and 0 become 0; 1e-9 is near zero
    n, zeros, near = m.sparsity[("elementwise", "input")]
    assert (n, zeros, near) == (8, 1, 2)               # one exact zero, one within the tolerance


def test_block_codes_and_masks_are_as_sparse_as_built():
    from nscharacterize.workloads.nvsa.blockcodes import codebook

    book = codebook(8, 1024, 4, torch.Generator().manual_seed(0))
    mask = torch.arange(100) % 4 == 0
    ones, zeros_ = torch.ones(100), torch.zeros(100)
    with OpMetricsMode(classify, sparsity=True) as mode:
        book.clone()                                   # 1 - k/d zeros
    n, zeros, _ = mode.finish().sparsity[("data_movement", "output")]
    assert n == 8 * 1024 and zeros == 8 * (1024 - 4)
    with OpMetricsMode(classify, sparsity=True) as mode:
        torch.where(mask, ones, zeros_)
    n, zeros, _ = mode.finish().sparsity[("elementwise", "output")]
    assert n == 100 and zeros == 75


def test_allocations_by_category_views_and_in_place_allocate_nothing():
    a, b = torch.ones(64, 32), torch.ones(32, 16)
    with OpMetricsMode(classify) as mode:
        c = a @ b                       # 64 x 16 floats: 4 KiB, GEMM
        c.view(-1)                      # a view: nothing new
        c.add_(1)                       # in place: nothing new
        d = torch.relu(c)               # 4 KiB, element-wise
        del d
    m = mode.finish()
    assert m.allocated["gemm"] == 64 * 16 * 4
    assert m.allocated["elementwise"] == 64 * 16 * 4
    assert m.peak_intermediate_bytes == 2 * 64 * 16 * 4
    assert set(m.read_before) >= {a.untyped_storage().data_ptr(), b.untyped_storage().data_ptr()}


def test_backward_ops_are_seen():
    w = torch.randn(8, 8, requires_grad=True)
    with OpMetricsMode(classify) as mode:
        (torch.relu(torch.randn(4, 8) @ w)).sum().backward()
    m = mode.finish()
    assert m.allocated["gemm"] >= 4 * 8 * 4 + 8 * 8 * 4     # forward product and the weight's gradient


def test_workload_memory_splits_parameters_inputs_state_and_intermediates():
    lin = torch.nn.Linear(16, 16)
    table = torch.randn(100, 16)                            # state held outside any module

    def neural(x):
        with torch.no_grad():
            return lin(x)

    def symbolic(h):
        return (h @ table.t()).argmax(-1)

    w = Workload("toy", [Component("neural", neural, modules=(lin,)), Component("symbolic", symbolic, kind="symbolic")],
                 make_samples=lambda n: [torch.randn(4, 16) for _ in range(n)])
    memory, sparse, counted = measure_workload(w, "toy", w.make_samples(2), classify, "cpu", sparsity=True)
    rows = {(r["component"], r["sample"], r["part"], r["category"]): r["bytes"] for r in memory}
    assert rows[("neural", 0, "parameters", "")] == (16 * 16 + 16) * 4
    assert rows[("neural", 0, "inputs", "")] == 4 * 16 * 4
    assert rows[("symbolic", 0, "state", "")] == 100 * 16 * 4
    assert rows[("symbolic", 0, "inputs", "")] == 4 * 16 * 4
    assert rows[("symbolic", 1, "peak_intermediates", "")] >= 4 * 100 * 4
    assert {r["component"] for r in sparse} == {"neural", "symbolic"}
    assert all(0 <= r["zeros"] <= r["elements"] for r in sparse)
    assert counted == []


def test_counters_are_read_around_each_op_and_summed_by_category():
    class Ticking:                                   # stands in for perf counters: +1 cycle, +10 instr per read
        names = ["cycles", "instructions"]

        def __init__(self):
            self.n = 0

        def read(self):
            self.n += 1
            return [self.n, 10 * self.n]

    a = torch.ones(4, 4)
    with OpMetricsMode(classify, counters=Ticking()) as mode:
        a @ a
        torch.relu(a)
        torch.relu(a)
    m = mode.finish()
    assert m.counters == {"gemm": [1, 10], "elementwise": [2, 20]}


def test_probe_says_what_this_machine_allows():
    from nscharacterize.profiler.counters import probe

    p = probe()
    assert p.line().startswith("hardware counters: ")
    assert p.available == bool(p.events) and (p.available or p.reason)


def test_the_metrics_pass_is_guarded_against_dynamo_only_where_the_process_compiled():
    """torch >= 2.5 guards a dispatch mode's hook against Dynamo, importing torch._dynamo at the first
    op (about 1 s). A process that never loaded Dynamo cannot compile inside the hook, so the mode
    runs unguarded there, and where Dynamo is loaded but has compiled nothing (an optimizer imports
    it); once Dynamo has compiled (a user's torch.compile) the guarded mode is used, and it still
    counts every op. A fresh process: another test may have loaded Dynamo in this one."""
    code = """
import sys, torch
from nscharacterize.profiler import opmetrics
x = torch.randn(8, 8)
with opmetrics.metrics_mode(lambda name: "other") as mode:
    (x @ x).relu()
assert "torch._dynamo" not in sys.modules, "dynamo was imported"
assert type(mode) is opmetrics.OpMetricsMode and mode.finish().ops == 2
torch.optim.Adam(torch.nn.Linear(2, 2).parameters())   # loads Dynamo, compiles nothing
assert "torch._dynamo" in sys.modules
with opmetrics.metrics_mode(lambda name: "other") as mode:
    (x @ x).relu()
assert type(mode) is opmetrics.OpMetricsMode, type(mode)
f = torch.compile(lambda t: t.sin() + 1, backend="eager")
f(x)   # compiled in the timed passes, before the metrics pass
with opmetrics.metrics_mode(lambda name: "other") as mode:
    f(x)
    (x @ x).relu()
assert type(mode).__name__ == "_DynamoSafeOpMetricsMode", type(mode)
print("ok", mode.finish().ops)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1].split()[0] == "ok"
    assert int(proc.stdout.strip().splitlines()[-1].split()[1]) >= 4
