"""LNN as a workload: neural grounding of the observed facts, then symbolic inference to convergence."""
from __future__ import annotations

from pydantic import Field

from ..base import Component, Workload
from ..registry import Params


class LNNParams(Params):
    individuals: int = Field(32, ge=2, le=4096, description="individuals the predicates are grounded on")
    unary: int = Field(8, ge=2, le=256, description="unary predicates")
    binary: int = Field(4, ge=1, le=64, description="binary predicates (relations)")
    rules: int = Field(16, ge=1, le=1024, description="rules (axioms) in the formula graph")
    features: int = Field(16, ge=1, le=1024, description="features per individual fed to the grounding MLP")
    observed: float = Field(0.3, gt=0, le=1, description="fraction of unary groundings observed as facts")
    max_iterations: int = Field(20, ge=1, le=1000, description="inference passes at most (LNN iterates to convergence)")
    tolerance: float = Field(1e-4, ge=0, description="convergence: the largest bound change of a pass")


def build_lnn(p: LNNParams, seed: int) -> Workload:
    import torch

    from .graph import KnowledgeBase

    g = torch.Generator().manual_seed(seed)
    kb = KnowledgeBase(p.individuals, p.unary, p.binary, p.rules, g)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        grounder = torch.nn.Sequential(torch.nn.Linear(p.features, 64), torch.nn.ReLU(),
                                       torch.nn.Linear(64, p.unary), torch.nn.Sigmoid()).eval()
    state = {"device": "cpu", "stats": {}}

    def make_samples(n: int) -> list:
        out = []
        for i in range(n):
            gi = torch.Generator().manual_seed(seed * 100_003 + i)
            out.append({"features": torch.randn(p.individuals, p.features, generator=gi),
                        "observed": torch.rand(p.unary, p.individuals, generator=gi) < p.observed})
        return out

    def to_device(device: str) -> None:
        state["device"] = device
        grounder.to(device)
        kb.to(device)

    def grounding(sample):
        """Observed groundings get the MLP's truth value as a crisp bound; the rest are unknown [0, 1]."""
        with torch.no_grad():
            truth = (grounder(sample["features"].to(state["device"])).t() > 0.5).float()   # [unary, n]
            obs = sample["observed"].to(state["device"])
            lower = torch.where(obs, truth, torch.zeros_like(truth))
            upper = torch.where(obs, truth, torch.ones_like(truth))
            return torch.stack([lower, upper], -1)

    def inference(facts):
        with torch.no_grad():
            kb.reset(facts)
            state["stats"] = kb.infer(p.max_iterations, p.tolerance)
            return kb.unary

    components = [Component("grounding", grounding, kind="neural", profiler="torch", modules=(grounder,)),
                  Component("inference", inference, kind="symbolic", profiler="torch")]
    return Workload(name="lnn", components=components, make_samples=make_samples, to_device=to_device,
                    info={"individuals": p.individuals, "unary": p.unary, "binary": p.binary, "rules": p.rules,
                          "pair_rules": sum(r.pair for r in kb.rules), "max_iterations": p.max_iterations,
                          "parameters": sum(t.numel() for t in grounder.parameters())})
