"""LTN's fuzzy semantics (Badreddine et al., AIJ 2022), written after LTNtorch's operators.

Connectives: standard negation, product t-norm, probabilistic sum, Reichenbach implication, and
Goedel (min/max) and Lukasiewicz t-norms for the ``tnorm`` choice. Quantifiers: ``forall`` is
pMeanError (``1 - mean((1 - x)^p)^(1/p)``), ``exists`` is pMean (``mean(x^p)^(1/p)``), both masking
NaN (LTN marks groundings a guarded quantifier leaves out with NaN).

Every connective and quantifier first checks that its inputs are truth values, as LTNtorch does
with ``torch.all(...)`` in a Python ``if``: on a GPU each check is a device-to-host copy that
waits for the queue to drain (a sync per call). ``Checks`` counts them so the cost is visible.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Checks:
    """How many value checks (host-device syncs on a GPU) the operators made."""

    calls: int = 0


CHECKS = Checks()


def check_values(*xs: torch.Tensor) -> None:
    for x in xs:
        CHECKS.calls += 1
        if not torch.all(torch.logical_and(x >= 0.0, x <= 1.0) | torch.isnan(x)):
            raise ValueError("truth values must lie in [0, 1]")


def not_(x: torch.Tensor) -> torch.Tensor:
    check_values(x)
    return 1.0 - x


def and_(a: torch.Tensor, b: torch.Tensor, tnorm: str = "product") -> torch.Tensor:
    check_values(a, b)
    if tnorm == "goedel":
        return torch.minimum(a, b)
    if tnorm == "lukasiewicz":
        return torch.clamp(a + b - 1.0, min=0.0)
    return a * b


def or_(a: torch.Tensor, b: torch.Tensor, tnorm: str = "product") -> torch.Tensor:
    check_values(a, b)
    if tnorm == "goedel":
        return torch.maximum(a, b)
    if tnorm == "lukasiewicz":
        return torch.clamp(a + b, max=1.0)
    return a + b - a * b


def implies(a: torch.Tensor, b: torch.Tensor, tnorm: str = "product") -> torch.Tensor:
    check_values(a, b)
    if tnorm == "goedel":
        return torch.where(a <= b, torch.ones_like(a), b)
    if tnorm == "lukasiewicz":
        return torch.clamp(1.0 - a + b, max=1.0)
    return 1.0 - a + a * b                      # Reichenbach


def forall(x: torch.Tensor, dims: tuple[int, ...], p: float = 2.0) -> torch.Tensor:
    """pMeanError over ``dims``; NaN groundings are left out."""
    check_values(x)
    mask = torch.isnan(x)
    err = torch.where(mask, torch.zeros_like(x), (1.0 - x) ** p)
    count = (~mask).sum(dim=dims)
    return 1.0 - (err.sum(dim=dims) / count) ** (1.0 / p)


def exists(x: torch.Tensor, dims: tuple[int, ...], p: float = 2.0) -> torch.Tensor:
    """pMean over ``dims``; NaN groundings are left out."""
    check_values(x)
    mask = torch.isnan(x)
    val = torch.where(mask, torch.zeros_like(x), x ** p)
    count = (~mask).sum(dim=dims)
    return (val.sum(dim=dims) / count) ** (1.0 / p)


def sat_agg(*axioms: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """The knowledge base's satisfaction: pMeanError over the axioms' truth values."""
    return forall(torch.stack([a.reshape(()) for a in axioms]), dims=(0,), p=p)
