"""The original MLP Propagation Network (Cradle, Rope, Box), standalone."""
from ..registry import WorkloadSpec
from .workload import PropNetParams, build_propnet

PROPNET = WorkloadSpec(
    "propnet", "original MLP PropNet rollouts on Cradle / Rope (dense relations) or Box (sparse relations)",
    PropNetParams, build_propnet, smoke={"scenario": "box", "steps": 16, "nf_relation": 16, "nf_particle": 16,
                                         "nf_effect": 16})

__all__ = ["PROPNET", "PropNetParams", "build_propnet"]
