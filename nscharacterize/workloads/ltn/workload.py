"""LTN as a workload: grounding (neural), reasoning (symbolic) and one training step, per sample."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..base import Component, Workload
from ..registry import Params


class LTNParams(Params):
    individuals: int = Field(14, ge=4, le=4096, description="individuals in the knowledge base (LTN's example: 14)")
    embedding: int = Field(5, ge=1, le=512, description="size of each individual's learnable embedding (example: 5)")
    hidden: int = Field(16, ge=2, le=1024, description="hidden width of each predicate's MLP")
    tnorm: Literal["product", "goedel", "lukasiewicz"] = Field("product", description="fuzzy semantics of "
                                                                                     "and/or/implies (LTN's default: product)")
    p_forall: float = Field(2.0, ge=1, le=20, description="p of forall's pMeanError (LTN's default: 2)")
    p_exists: float = Field(6.0, ge=1, le=20, description="p of exists' pMean (LTN's example: 6)")
    lr: float = Field(0.001, gt=0, le=1, description="Adam learning rate of the training step")


def build_ltn(p: LTNParams, seed: int) -> Workload:
    import torch

    from . import fuzzy
    from .kb import SmokersFriends, axioms, make_facts

    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        kb = SmokersFriends(p.individuals, p.embedding, p.hidden, g)
    facts = make_facts(p.individuals, g)
    optimizer = torch.optim.Adam(kb.parameters(), lr=p.lr)
    state = {"facts": facts}

    def make_samples(n: int) -> list:
        return list(range(n))            # one sample is one inference + one training step on the KB

    def to_device(device: str) -> None:
        kb.to(device)
        state["facts"] = {k: v.to(device) for k, v in facts.items()}

    def grounding(_step):
        with torch.no_grad():
            return kb.ground()

    def reasoning(grounded):
        with torch.no_grad():
            return fuzzy.sat_agg(*axioms(grounded, state["facts"], p.tnorm, p.p_forall, p.p_exists))

    def train_step(_sat):
        optimizer.zero_grad()
        sat = fuzzy.sat_agg(*axioms(kb.ground(), state["facts"], p.tnorm, p.p_forall, p.p_exists))
        (1.0 - sat).backward()
        optimizer.step()
        return sat.detach()

    components = [Component("grounding", grounding, kind="neural", profiler="torch", modules=(kb,)),
                  Component("reasoning", reasoning, kind="symbolic", profiler="torch"),
                  Component("train_step", train_step, kind="neural", profiler="torch")]
    return Workload(name="ltn", components=components, make_samples=make_samples, to_device=to_device,
                    info={"individuals": p.individuals, "pairs": p.individuals ** 2, "axioms": 11, "tnorm": p.tnorm,
                          "value_checks_per_inference": checks_per_inference(),
                          "parameters": sum(t.numel() for t in kb.parameters())})


def checks_per_inference() -> int:
    """The value checks (syncs on a GPU) one evaluation of the eleven axioms and their aggregate makes:
    each connective checks each operand, each quantifier its input."""
    # 11 foralls + sat_agg's forall + 1 exists; nots: 4 (one operand each); implies: 3 (two operands);
    # and: 1 (two operands)
    return 11 + 1 + 1 + 4 + 3 * 2 + 1 * 2
