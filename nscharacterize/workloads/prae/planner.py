"""PrAE's probabilistic abduction and execution (Zhang et al., CVPR 2021), over log-probabilities.

The planner scores every rule of an attribute by enumerating the attribute-value tuples the rule
allows and summing, for each tuple, the log-probabilities the perception gave the panels those
values (``expand`` + ``gather`` + ``logsumexp``): constant allows n tuples a row, progression about
4n, arithmetic about n^2/2, and distribute three, which ties all three rows, 2 n (n-1) (n-2) joint
tuples: the planner's work grows as n^3 in the number of attribute values. The executor builds the
missing panel's distribution under the chosen rule from the same tuples; selection picks the
candidate whose perceived distribution is closest (Jensen-Shannon divergence) to it.
"""
from __future__ import annotations

import itertools

import torch

from ..raven_common import RULES

STEPS = (-2, -1, 1, 2)


def row_tuples(rule: str, n: int) -> list[torch.Tensor]:
    """The value triples one row may take under a row-wise rule, one ``[m, 3]`` tensor per variant
    whose choice is shared by all rows (progression's step, arithmetic's sign)."""
    if rule == "constant":
        return [torch.arange(n)[:, None].repeat(1, 3)]
    if rule == "progression":
        out = []
        for s in STEPS:
            v = torch.arange(max(0, -2 * s), n - max(0, 2 * s))
            if len(v):
                out.append(torch.stack([v, v + s, v + 2 * s], 1))
        return out
    a, b = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    plus, minus = a + b + 1, a - b - 1      # value indices counted from 1, as RAVEN counts them
    keep_p, keep_m = plus < n, minus >= 0
    return [torch.stack([a[keep_p], b[keep_p], plus[keep_p]], 1), torch.stack([a[keep_m], b[keep_m], minus[keep_m]], 1)]


def distribute_tuples(n: int) -> torch.Tensor:
    """``[2 n (n-1) (n-2), 9]``: the whole matrix's values under distribute three (three distinct
    values, each row shifted one place left, or each one place right, from the row above)."""
    rows = []
    for a, b, c in itertools.permutations(range(n), 3):
        base = (a, b, c)
        for turn in (1, -1):
            rows.append([base[(col + turn * r) % 3] for r in range(3) for col in range(3)])
    return torch.tensor(rows, dtype=torch.long).reshape(-1, 9)


def tuple_counts(n: int) -> dict[str, int]:
    """How many tuples the planner enumerates per rule for an attribute of ``n`` values."""
    return {"constant": n, "progression": sum(len(t) for t in row_tuples("progression", n)),
            "arithmetic": sum(len(t) for t in row_tuples("arithmetic", n)),
            "distribute_three": 2 * n * (n - 1) * (n - 2)}


class Plans:
    """The tuples of every rule for one attribute size, enumerated once (as the release caches them)."""

    def __init__(self, n: int, device: str = "cpu"):
        self.n = n
        self.rows = {r: [t.to(device) for t in row_tuples(r, n)] for r in RULES if r != "distribute_three"}
        self.joint = distribute_tuples(n).to(device)


def _gather(logp: torch.Tensor, tuples: torch.Tensor) -> torch.Tensor:
    """``[m]``: for each tuple, the sum of the panels' log-probabilities at the tuple's values.
    ``logp`` is ``[p, n]`` for the tuple's ``p`` panels, ``tuples`` is ``[m, p]``."""
    m, p = tuples.shape
    expanded = logp.unsqueeze(0).expand(m, p, logp.shape[-1])
    return expanded.gather(2, tuples.unsqueeze(-1)).squeeze(-1).sum(-1)


def plan(plans: Plans, logp: torch.Tensor) -> torch.Tensor:
    """``[4]`` log-probabilities of the rules (RULES order) given the 8 context panels' ``[8, n]``."""
    rows = [logp[0:3], logp[3:6]]
    scores = []
    for rule in RULES[:3]:
        variants = []
        for t in plans.rows[rule]:
            per_row = [torch.logsumexp(_gather(r, t), 0) for r in rows]
            third = torch.logsumexp(_gather(logp[6:8], t[:, :2]), 0)
            variants.append(torch.stack(per_row).sum() + third)
        scores.append(torch.logsumexp(torch.stack(variants), 0))
    scores.append(torch.logsumexp(_gather(logp, plans.joint[:, :8]), 0))
    return torch.stack(scores)


def execute(plans: Plans, logp: torch.Tensor, rule: int) -> torch.Tensor:
    """``[n]`` log-distribution of the ninth panel under ``rule``: each allowed tuple's score given
    the known panels, gathered into the value the tuple gives the ninth panel."""
    name = RULES[rule]
    if name == "distribute_three":
        score, ninth = _gather(logp, plans.joint[:, :8]), plans.joint[:, 8]
    else:
        parts = []
        for t in plans.rows[name]:
            parts.append((_gather(logp[6:8], t[:, :2]), t[:, 2]))
        score = torch.cat([s for s, _ in parts])
        ninth = torch.cat([v for _, v in parts])
    table = torch.full((len(score), plans.n), float("-inf"), device=logp.device)
    table = table.scatter(1, ninth[:, None], score[:, None])
    return torch.log_softmax(torch.logsumexp(table, 0), 0)


def jsd(logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """Jensen-Shannon divergence between log-distributions, over the last axis."""
    p, q = logp.exp(), logq.exp()
    m = (0.5 * (p + q)).clamp_min(1e-12).log()
    return 0.5 * ((p * (logp - m)).nansum(-1) + (q * (logq - m)).nansum(-1))
