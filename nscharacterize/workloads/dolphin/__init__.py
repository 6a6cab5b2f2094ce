"""Dolphin-suite neurosymbolic learning workloads (Naik et al., "Dolphin: a programmable framework
for scalable neurosymbolic learning"): MNIST SumN and hand-written formulas (HWF), each with
per-sample (pure-Python) or vectorized (batched tensor) provenance, in inference or training."""
from ..registry import WorkloadSpec
from .workload import HWFParams, SumParams, build_hwf, build_sum

SUM = WorkloadSpec(
    "dolphin-sum", "MNIST SumN: N digit images -> MNIST CNN -> distribution of their sum (damp | dtkp-am; "
    "per-sample | vectorized; inference | training)",
    SumParams, build_sum,
    smoke={"n": 3, "batch": 2, "provenance": "dtkp-am", "strategy": "vectorized", "mode": "training"})

HWF = WorkloadSpec(
    "dolphin-hwf", "hand-written formulas: symbol images -> symbol CNN -> formula value distribution (damp | "
    "dtkp-am; per-sample | vectorized; inference | training)",
    HWFParams, build_hwf,
    smoke={"length": 3, "batch": 2, "provenance": "damp", "strategy": "per-sample", "mode": "inference"})

__all__ = ["SUM", "HWF", "SumParams", "HWFParams", "build_sum", "build_hwf"]
