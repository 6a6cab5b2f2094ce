"""Logic Tensor Networks (Badreddine et al., AIJ 2022), re-implemented after LTNtorch: fuzzy
first-order logic over neural predicates on the smokers-friends-cancer knowledge base."""
from ..registry import WorkloadSpec
from .workload import LTNParams, build_ltn

LTN = WorkloadSpec(
    "ltn", "Logic Tensor Networks: MLP predicates, fuzzy connectives and pMean quantifiers, satisfaction and a training step",
    LTNParams, build_ltn, smoke={"individuals": 8, "hidden": 8})

__all__ = ["LTN", "LTNParams", "build_ltn"]
