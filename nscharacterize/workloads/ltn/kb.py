"""The smokers-friends-cancer knowledge base of LTN's examples, grown to ``n`` individuals.

Individuals are learnable embeddings (LTN grounds constants as trainable vectors); Smokes, Cancer
(unary) and Friends (binary) are small MLPs ending in a sigmoid. A binary predicate over two
variables is evaluated on every pair (LTN's cartesian-product grounding: ``n^2`` rows through the
MLP). Facts follow the example's shape: two friend groups, smokers and cancer cases in each, half
of the individuals' facts known and the rest left to the axioms.
"""
from __future__ import annotations

import torch

from . import fuzzy


class Predicate(torch.nn.Module):
    def __init__(self, arity: int, dim: int, hidden: int):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(arity * dim, hidden), torch.nn.ELU(),
                                       torch.nn.Linear(hidden, hidden), torch.nn.ELU(),
                                       torch.nn.Linear(hidden, 1), torch.nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class SmokersFriends(torch.nn.Module):
    def __init__(self, n: int, dim: int, hidden: int, generator: torch.Generator):
        super().__init__()
        self.n = n
        self.embeddings = torch.nn.Parameter(torch.rand(n, dim, generator=generator))
        self.smokes = Predicate(1, dim, hidden)
        self.cancer = Predicate(1, dim, hidden)
        self.friends = Predicate(2, dim, hidden)

    def ground(self) -> dict:
        """Truth values of every predicate on every grounding: ``S [n]``, ``C [n]``, ``F [n, n]``."""
        e = self.embeddings
        n = self.n
        pairs = torch.cat([e.repeat_interleave(n, 0), e.repeat(n, 1)], dim=1)   # [n*n, 2*dim]
        return {"S": self.smokes(e), "C": self.cancer(e), "F": self.friends(pairs).reshape(n, n)}


def make_facts(n: int, generator: torch.Generator) -> dict:
    """Known facts as index tensors: friend pairs, non-friend pairs, smokers, non-smokers, cancer."""
    half = n // 2
    group = torch.arange(n) >= half
    known = torch.arange(n) < max(2, (3 * n) // 4)          # facts about the last quarter are unknown
    same = group[:, None] == group[None, :]
    draw = torch.rand(n, n, generator=generator)
    friends = same & (draw < 0.4) & known[:, None] & known[None, :] & ~torch.eye(n, dtype=torch.bool)
    friends[0, 1] = True                                     # every fact list non-empty (n >= 4)
    not_friends = ~same & known[:, None] & known[None, :]
    smokes = (torch.rand(n, generator=generator) < 0.4) & known
    cancer = smokes & (torch.rand(n, generator=generator) < 0.5)
    smokes[0], cancer[0], smokes[1], cancer[1] = True, True, False, False
    return {"friends": friends.nonzero(), "not_friends": not_friends.nonzero(),
            "smokes": smokes.nonzero().squeeze(-1), "not_smokes": (~smokes & known).nonzero().squeeze(-1),
            "cancer": cancer.nonzero().squeeze(-1), "not_cancer": (~cancer & known).nonzero().squeeze(-1)}


def axioms(g: dict, facts: dict, tnorm: str, p_forall: float, p_exists: float) -> list[torch.Tensor]:
    """The example's axioms, each a truth value in [0, 1]."""
    S, C, F = g["S"], g["C"], g["F"]
    A = fuzzy
    out = [
        A.forall(F[facts["friends"][:, 0], facts["friends"][:, 1]], (0,), p_forall),
        A.forall(A.not_(F[facts["not_friends"][:, 0], facts["not_friends"][:, 1]]), (0,), p_forall),
        A.forall(S[facts["smokes"]], (0,), p_forall),
        A.forall(A.not_(S[facts["not_smokes"]]), (0,), p_forall),
        A.forall(C[facts["cancer"]], (0,), p_forall),
        A.forall(A.not_(C[facts["not_cancer"]]), (0,), p_forall),
        # forall x: not Friends(x, x)
        A.forall(A.not_(torch.diagonal(F)), (0,), p_forall),
        # forall x, y: Friends(x, y) -> Friends(y, x)
        A.forall(A.implies(F, F.t(), tnorm), (0, 1), p_forall),
        # forall x: exists y: Friends(x, y)
        A.forall(A.exists(F, (1,), p_exists), (0,), p_forall),
        # forall x, y: Friends(x, y) and Smokes(x) -> Smokes(y)
        A.forall(A.implies(A.and_(F, S[:, None].expand_as(F), tnorm), S[None, :].expand_as(F), tnorm), (0, 1), p_forall),
        # forall x: Smokes(x) -> Cancer(x)
        A.forall(A.implies(S, C, tnorm), (0,), p_forall),
    ]
    return out
