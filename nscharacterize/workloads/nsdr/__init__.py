"""NS-DR (CLEVRER): Mask R-CNN frame parser, convolutional PropNet dynamics, symbolic executor."""
from ..registry import WorkloadSpec
from .workload import NSDRParams, build_nsdr

NSDR = WorkloadSpec(
    "nsdr", "NS-DR on synthetic CLEVRER: Mask R-CNN per frame, conv PropNet rollouts, Python executor",
    NSDRParams, build_nsdr,
    smoke={"frames": 3, "min_objects": 2, "max_objects": 2, "parser_min_size": 96, "parser_max_size": 160,
           "nf_particle": 8, "nf_relation": 8, "nf_effect": 16, "extra_steps": 2})

__all__ = ["NSDR", "NSDRParams", "build_nsdr"]
