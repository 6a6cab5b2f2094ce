"""Weighted Lukasiewicz neurons over [lower, upper] truth bounds (Riegel et al., 2020; IBM/LNN).

Every node of the formula graph holds bounds ``[..., 2]`` (lower, upper) over its groundings.
Upward, a connective computes its bounds from its operands':
- and:  ``clamp(beta - sum_i w_i (1 - x_i), 0, 1)``, applied to the lower and to the upper bounds;
- implies (a -> b), LNN's weighted Lukasiewicz implication:
  ``clamp(1 - beta + w_a (1 - a) + w_b b, 0, 1)``, the lower from (a upper, b lower) and the upper
  from (a lower, b upper).
Downward, the connective's bounds and the other operands' bounds give each operand new bounds
(the inverse of the activation, as LNN's downward pass solves it), and a node's bounds only ever
tighten: lower = max(lower, new lower), upper = min(upper, new upper). A grounding whose lower
bound passes its upper is a contradiction, which LNN reports (here: counted).
"""
from __future__ import annotations

import torch


def tighten(bounds: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    return torch.stack([torch.maximum(bounds[..., 0], lower), torch.minimum(bounds[..., 1], upper)], -1)


def and_up(xs: list[torch.Tensor], w: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    lo = sum(w[i] * (1 - x[..., 0]) for i, x in enumerate(xs))
    hi = sum(w[i] * (1 - x[..., 1]) for i, x in enumerate(xs))
    return torch.stack([torch.clamp(beta - lo, 0, 1), torch.clamp(beta - hi, 0, 1)], -1)


def and_down(out: torch.Tensor, xs: list[torch.Tensor], w: torch.Tensor, beta: torch.Tensor, i: int):
    """New (lower, upper) for operand ``i`` of an and: if the and is at least L, operand i is at least
    ``1 - (beta - L - sum_{j != i} w_j (1 - upper_j)) / w_i``; if the and is at most U < 1 and the
    others are at least their lowers, operand i is at most ``1 - (beta - U - sum_{j != i} w_j (1 - lower_j)) / w_i``."""
    rest_hi = sum(w[j] * (1 - x[..., 1]) for j, x in enumerate(xs) if j != i)
    rest_lo = sum(w[j] * (1 - x[..., 0]) for j, x in enumerate(xs) if j != i)
    lower = 1 - (beta - out[..., 0] - rest_hi) / w[i]
    upper = torch.where(out[..., 1] < 1, 1 - (beta - out[..., 1] - rest_lo) / w[i], torch.ones_like(out[..., 1]))
    return lower.clamp(0, 1), upper.clamp(0, 1)


def implies_up(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    lo = torch.clamp(1 - beta + w[0] * (1 - a[..., 1]) + w[1] * b[..., 0], 0, 1)
    hi = torch.clamp(1 - beta + w[0] * (1 - a[..., 0]) + w[1] * b[..., 1], 0, 1)
    return torch.stack([lo, hi], -1)


def implies_down(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor, w: torch.Tensor, beta: torch.Tensor):
    """Modus ponens (new lower of b) and modus tollens (new upper of a) from the implication's lower bound."""
    b_lower = (out[..., 0] - 1 + beta - w[0] * (1 - a[..., 0])) / w[1]
    a_upper = 1 - (out[..., 0] - 1 + beta - w[1] * b[..., 1]) / w[0]
    return b_lower.clamp(0, 1), a_upper.clamp(0, 1)
