"""A synthetic first-order knowledge base as an LNN formula graph, and inference to convergence.

Predicates: ``unary`` of them over ``n`` individuals (bounds ``[n, 2]``) and ``binary`` over pairs
(``[n, n, 2]``). Rules, each an axiom asserted true (its implication's lower bound is 1), follow two
templates drawn at random:
- ``P_a(x) and R_r(x, y) -> P_b(y)``: the and is over pairs (``[n, n]``); upward, the implication's
  consequent is ``P_b`` broadcast over x; downward, ``P_b(y)``'s new lower bound is the best over x
  (a max), and the and's operands get theirs back through the and;
- ``P_a(x) and P_c(x) -> P_b(x)``.
The graph is walked in Python, node by node, as IBM/LNN's ``Model.infer`` walks its graph: an
upward pass in topological order, a downward pass in reverse, repeated until no bound moves by
more than ``tolerance`` (or ``max_iterations``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .neurons import and_down, and_up, implies_down, implies_up, tighten


@dataclass
class Rule:
    a: int                 # antecedent unary predicate
    other: int             # the binary relation (pair rule) or a second unary predicate
    b: int                 # consequent unary predicate
    pair: bool
    w_and: torch.Tensor
    beta_and: torch.Tensor
    w_imp: torch.Tensor
    beta_imp: torch.Tensor


class KnowledgeBase:
    def __init__(self, n: int, unary: int, binary: int, rules: int, generator: torch.Generator):
        self.n = n
        self.unary = torch.zeros(unary, n, 2)
        self.unary[..., 1] = 1.0                                  # unknown: [0, 1]
        self.binary = torch.zeros(binary, n, n, 2)
        self.binary[..., 1] = 1.0
        self.rules = []
        for _ in range(rules):
            pair = bool(torch.rand(1, generator=generator) < 0.5)
            a, b = torch.randint(unary, (2,), generator=generator).tolist()
            other = int(torch.randint(binary if pair else unary, (1,), generator=generator))
            # weights and biases start as LNN initialises them (1) and are learnable there
            self.rules.append(Rule(a, other, b, pair, torch.ones(2), torch.tensor(1.0), torch.ones(2),
                                   torch.tensor(1.0)))
        self.facts_binary = (torch.rand(binary, n, n, generator=generator) < 0.3).float()
        self.contradictions = 0

    def to(self, device: str) -> None:
        self.unary, self.binary = self.unary.to(device), self.binary.to(device)
        self.facts_binary = self.facts_binary.to(device)
        for r in self.rules:
            r.w_and, r.beta_and, r.w_imp, r.beta_imp = (t.to(device) for t in (r.w_and, r.beta_and, r.w_imp, r.beta_imp))

    def reset(self, unary_facts: torch.Tensor) -> None:
        """Start an inference from the observed facts: ``unary_facts [unary, n, 2]`` bounds (unknowns
        are [0, 1]) and the binary relations observed as true ([1, 1]) or unknown."""
        self.unary = unary_facts.clone()
        self.binary = torch.stack([self.facts_binary, torch.ones_like(self.facts_binary)], -1)

    def _operands(self, r: Rule):
        a = self.unary[r.a]
        if r.pair:
            return [a[:, None, :].expand(self.n, self.n, 2), self.binary[r.other]]
        return [a, self.unary[r.other]]

    def upward(self) -> list[torch.Tensor]:
        """The and and implication bounds of every rule, from the operands (topological order)."""
        out = []
        for r in self.rules:
            conj = and_up(self._operands(r), r.w_and, r.beta_and)
            b = self.unary[r.b][None, :, :].expand_as(conj) if r.pair else self.unary[r.b]
            imp = implies_up(conj, b, r.w_imp, r.beta_imp)
            axiom = torch.ones_like(imp)                          # the rule is asserted true
            out.append((conj, tighten(imp, axiom[..., 0], axiom[..., 1])))
        return out

    def downward(self, nodes) -> None:
        """Every rule's implication tightens its consequent and its and; the and tightens its operands."""
        for r, (conj, imp) in zip(reversed(self.rules), reversed(nodes)):
            b = self.unary[r.b][None, :, :].expand_as(conj) if r.pair else self.unary[r.b]
            b_lower, conj_upper = implies_down(imp, conj, b, r.w_imp, r.beta_imp)
            if r.pair:
                b_lower = b_lower.amax(0)                          # the best witness x for each y
            self.unary[r.b] = tighten(self.unary[r.b], b_lower, self.unary[r.b][..., 1])
            conj = tighten(conj, conj[..., 0], conj_upper)
            ops = self._operands(r)
            for i in range(2):
                lo, hi = and_down(conj, ops, r.w_and, r.beta_and, i)
                if i == 0 and r.pair:
                    lo, hi = lo.amax(1), hi.amin(1)                # any y lifts x's lower; every y caps its upper
                    self.unary[r.a] = tighten(self.unary[r.a], lo, hi)
                elif i == 0:
                    self.unary[r.a] = tighten(self.unary[r.a], lo, hi)
                elif r.pair:
                    self.binary[r.other] = tighten(self.binary[r.other], lo, hi)
                else:
                    self.unary[r.other] = tighten(self.unary[r.other], lo, hi)

    def infer(self, max_iterations: int, tolerance: float) -> dict:
        """Upward and downward passes until the bounds stop moving; returns what it took."""
        iterations, moved = 0, float("inf")
        while iterations < max_iterations and moved > tolerance:
            before = self.unary.clone()
            self.downward(self.upward())
            moved = float((self.unary - before).abs().max())
            iterations += 1
        self.contradictions = int((self.unary[..., 0] > self.unary[..., 1] + 1e-6).sum())
        return {"iterations": iterations, "moved": moved, "contradictions": self.contradictions}
