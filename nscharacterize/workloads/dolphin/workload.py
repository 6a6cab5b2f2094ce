"""Dolphin-suite workloads: MNIST SumN and HWF, per-sample or vectorized, inference or training.

One sample is one batch of ``batch`` tasks. Components:

* ``perception`` (neural, torch): the CNN on every image of the batch -> symbol probabilities
  ``[B, positions, classes]`` (softmax). Identical for both strategies.
* ``reasoning`` (symbolic): the program over those distributions, under the chosen provenance.
  ``vectorized``: Dolphin's batched tensor provenance (torch profiler). ``per-sample``: pure Python,
  one sample after the other (cProfile). Output: each result symbol's probability per task.
* ``update`` (neural, torch; training only): binary cross-entropy of the program's output against
  the label, backward (through the vectorized provenance, or through the per-sample Jacobian),
  Adam step. ``perception`` then runs with gradients and in train mode (dropout, batch norm).

The training components update the weights in place on every call, as training does; with
random weights the amount of work does not depend on their values, so repeated calls measure the
same work.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator

from ..base import Component, Workload
from ..registry import Params
from . import per_sample, vectorized
from .data import Batch, hwf_batch, sum_batch
from .programs import HWF_CLASSES, Program, hwf_program, sum_program


class DolphinParams(Params):
    batch: int = Field(16, ge=1, le=1024, description="tasks per batch; one sample is one batch (Dolphin trains "
                       "with 64)")
    k: int = Field(3, ge=1, le=64, description="top-k: proofs kept per tag under dtkp-am; for hwf also the symbols "
                   "each operand keeps per step under both provenances (Dolphin's --top-k, default 3)")
    strategy: Literal["vectorized", "per-sample"] = Field(
        "vectorized", description="vectorized: Dolphin's batched tensor provenance (torch); per-sample: pure-Python "
                                  "provenance one sample at a time, as a CPU backend does (cProfile)")
    mode: Literal["inference", "training"] = Field(
        "inference", description="inference: perception + reasoning; training: perception and reasoning with "
                                 "gradients, then update (loss, backward, Adam step)")


class SumParams(DolphinParams):
    n: int = Field(5, ge=2, le=30, description="digits per task (paper: 5, 10, 15)")
    provenance: Literal["damp", "dtkp-am"] = Field("damp", description="damp (add-mult probabilities) or dtkp-am "
                                                   "(top-k proofs, add-mult)")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate in training mode (Dolphin SumN: 1e-3)")


class HWFParams(DolphinParams):
    length: int = Field(7, ge=3, le=39, description="symbols per formula, odd: digit op digit ... (paper: formulas "
                        "up to 7, 15, 19)")
    provenance: Literal["damp", "dtkp-am"] = Field("dtkp-am", description="damp (add-mult probabilities) or "
                                                   "dtkp-am (top-k proofs, add-mult)")
    lr: float = Field(1e-4, gt=0, description="Adam learning rate in training mode (Dolphin HWF: 1e-4)")

    @field_validator("length")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"length must be odd (digit, operator, digit, ...), got {v}; use {v - 1} or {v + 1}")
        return v


@dataclass
class Perceived:
    probs: torch.Tensor          # [B, positions, classes], with a graph in training mode
    labels: torch.Tensor         # [B]


@dataclass
class Reasoned:
    symbols: list                # result symbols, one per output column
    probs: torch.Tensor | None   # [B, R] (vectorized)
    batch: per_sample.BatchResult | None   # (per-sample)
    inputs: torch.Tensor         # the perception output the result depends on
    labels: torch.Tensor


class ThroughJacobian(torch.autograd.Function):
    """The per-sample program's output as a tensor whose backward multiplies the incoming
    gradient by the Jacobian the Python provenance computed (how a CPU backend hands its
    derivatives back to autograd)."""

    @staticmethod
    def forward(ctx, inputs, values, jacobian):
        ctx.save_for_backward(jacobian)
        return values.clone()

    @staticmethod
    def backward(ctx, grad):
        (jacobian,) = ctx.saved_tensors
        return torch.bmm(grad.unsqueeze(1), jacobian).squeeze(1), None, None


def per_sample_output(r: Reasoned) -> torch.Tensor:
    """Builds the per-sample result as a tensor [B, R] that backpropagates into ``r.inputs``."""
    device = r.inputs.device
    values = torch.tensor(r.batch.values, device=device, dtype=r.inputs.dtype)
    if r.batch.jacobian is None:
        return values
    b, _, c = r.inputs.shape
    jac = torch.zeros(b, len(r.symbols), r.inputs.shape[1] * c, device=device, dtype=r.inputs.dtype)
    samples, columns, facts, derivs = r.batch.jacobian
    if samples:
        index = (torch.tensor(samples, device=device), torch.tensor(columns, device=device),
                 torch.tensor(facts, device=device))
        jac.index_put_(index, torch.tensor(derivs, device=device, dtype=jac.dtype))
    return ThroughJacobian.apply(r.inputs.flatten(1), values, jac)


def target_matrix(labels: torch.Tensor, symbols: list) -> torch.Tensor:
    """1 where a result symbol equals the task's label (within 0.01, as Dolphin's HWF); NaN never matches."""
    values = torch.tensor([float(s) for s in symbols], device=labels.device, dtype=labels.dtype)
    return ((labels.unsqueeze(1) - values.unsqueeze(0)).abs() < 0.01).to(labels.dtype)


def program_loss(out: torch.Tensor, labels: torch.Tensor, symbols: list) -> torch.Tensor:
    """Binary cross-entropy of each result symbol against the label, summed over the symbols and
    averaged over the batch. (Dolphin averages over both; that only divides by the number of
    output columns, which Adam's update ignores, and the vectorized output keeps zero-probability
    columns that per-sample does not, so summing makes the two strategies' losses identical.)"""
    return F.binary_cross_entropy(out, target_matrix(labels, symbols), reduction="sum") / out.shape[0]


def build_dolphin(task: str, program: Program, net: torch.nn.Module, classes: int, make_batch,
                  p: DolphinParams) -> Workload:
    """The components for ``p.strategy`` and ``p.mode`` around ``net`` and ``program``;
    ``make_batch(i)`` builds sample i."""
    training = p.mode == "training"
    net.train(training)
    optimizer = torch.optim.Adam(net.parameters(), lr=p.lr) if training else None
    tensor_prov = vectorized.make_provenance(p.provenance, p.k)
    python_prov = per_sample.make_provenance(p.provenance, p.k, with_gradient=training)
    state = {"device": "cpu"}

    def make_samples(n: int) -> list[Batch]:
        return [make_batch(i) for i in range(n)]

    def grad_mode():
        return contextlib.nullcontext() if training else torch.no_grad()

    def perception(batch: Batch) -> Perceived:
        images = batch.images.to(state["device"])
        with grad_mode():
            b, n = images.shape[:2]
            probs = net(images.flatten(0, 1)).view(b, n, -1)
        return Perceived(probs, batch.labels.to(state["device"]))

    def reasoning_vectorized(seen: Perceived) -> Reasoned:
        with grad_mode():
            out = vectorized.run_program(program, tensor_prov, seen.probs)
            probs = tensor_prov.probabilities(out.tags)
        return Reasoned(out.symbols, probs, None, seen.probs, seen.labels)

    def reasoning_per_sample(seen: Perceived) -> Reasoned:
        rows = seen.probs.detach().tolist()
        result = per_sample.reason_batch(program, python_prov, rows, classes, with_gradient=training)
        return Reasoned(result.symbols, None, result, seen.probs, seen.labels)

    def update(r: Reasoned) -> torch.Tensor:
        out = r.probs if r.batch is None else per_sample_output(r)
        loss = program_loss(out, r.labels, r.symbols)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.detach()

    def to_device(device: str) -> None:
        state["device"] = device
        net.to(device)

    if p.strategy == "vectorized":
        reasoning = Component("reasoning", reasoning_vectorized, kind="symbolic", profiler="torch")
    else:
        reasoning = Component("reasoning", reasoning_per_sample, kind="symbolic", profiler="cprofile")
    components = [Component("perception", perception, kind="neural", profiler="torch"), reasoning]
    if training:
        components.append(Component("update", update, kind="neural", profiler="torch"))
    return Workload(name=f"dolphin-{task}", components=components, make_samples=make_samples, to_device=to_device,
                    info={"task": program.name, "positions": program.positions, "provenance": p.provenance,
                          "k": p.k, "symbol_k": program.symbol_k, "strategy": p.strategy, "mode": p.mode,
                          "batch": p.batch, "parameters": sum(t.numel() for t in net.parameters())})


def _seeded(seed: int, make):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def build_sum(p: SumParams, seed: int) -> Workload:
    from .nets import MNISTNet

    net = _seeded(seed, MNISTNet)
    return build_dolphin("sum", sum_program(p.n), net, 10, lambda i: sum_batch(seed, i, p.n, p.batch), p)


def build_hwf(p: HWFParams, seed: int) -> Workload:
    from .nets import SymbolNet

    net = _seeded(seed, SymbolNet)
    return build_dolphin("hwf", hwf_program(p.length, p.k), net, HWF_CLASSES,
                         lambda i: hwf_batch(seed, i, p.length, p.batch), p)


__all__ = ["SumParams", "HWFParams", "build_sum", "build_hwf", "build_dolphin", "ThroughJacobian", "program_loss"]
