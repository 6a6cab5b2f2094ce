"""PrAE, probabilistic abduction and execution (Zhang et al., CVPR 2021), re-implemented after
WellyZhang/PrAE on locally generated RAVEN-style matrices."""
from ..registry import WorkloadSpec
from .workload import PrAEParams, build_prae

PRAE = WorkloadSpec(
    "prae", "PrAE on RAVEN-style matrices: object CNN, rule planner enumerating attribute tuples (n^3), executor",
    PrAEParams, build_prae, smoke={"image_size": 32, "channels": 8})

__all__ = ["PRAE", "PrAEParams", "build_prae"]
