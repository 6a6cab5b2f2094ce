"""Logical Neural Networks (Riegel et al., 2020), re-implemented after IBM/LNN: weighted Lukasiewicz
neurons over truth bounds, upward and downward inference over a formula graph to convergence."""
from ..registry import WorkloadSpec
from .workload import LNNParams, build_lnn

LNN = WorkloadSpec(
    "lnn", "Logical Neural Networks: neural grounding, then upward/downward bound inference over a formula graph",
    LNNParams, build_lnn, smoke={"individuals": 6, "unary": 4, "binary": 2, "rules": 4, "max_iterations": 5})

__all__ = ["LNN", "LNNParams", "build_lnn"]
