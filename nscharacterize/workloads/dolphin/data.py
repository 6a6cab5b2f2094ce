"""Synthetic inputs made locally with fixed seeds: batches of digit images (SumN) and of
hand-written-formula symbol images (HWF), with their labels.

An image is its class's fixed random stroke template plus noise, normalised the way the released
experiments normalise MNIST and HWF images. With random CNN weights the pictures only need the
right shape; the labels (the true sum, the formula's value) feed the training loss.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .programs import OPERATORS, evaluate_tokens


@dataclass
class Batch:
    images: torch.Tensor      # [B, positions, 1, H, W]
    labels: torch.Tensor      # [B] ground-truth result (float; NaN never occurs)
    tokens: list[list]        # the symbols drawn per sample (digits and operators)


def _templates(classes: int, size: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(classes, size, size, generator=g) > 0.8).float()


def _render(classes: torch.Tensor, templates: torch.Tensor, g: torch.Generator, mean: float, std: float):
    size = templates.shape[-1]
    noise = torch.rand(*classes.shape, size, size, generator=g)
    return ((templates[classes] * 0.8 + noise * 0.2 - mean) / std).unsqueeze(-3)


def sum_batch(seed: int, index: int, n: int, batch: int) -> Batch:
    """``batch`` tasks of ``n`` 28x28 digit images each; the label is the digits' sum."""
    g = torch.Generator().manual_seed(seed * 100003 + index)
    digits = torch.randint(0, 10, (batch, n), generator=g)
    images = _render(digits, _templates(10, 28, seed), g, 0.1307, 0.3081)
    return Batch(images, digits.sum(1).float(), digits.tolist())


def hwf_batch(seed: int, index: int, length: int, batch: int) -> Batch:
    """``batch`` formulas of ``length`` 45x45 symbol images (digit, operator, digit, ...); the label
    is the formula's value. A digit after ``/`` is never 0, so every label is a number."""
    g = torch.Generator().manual_seed(seed * 100003 + index)
    tokens, classes = [], []
    for _ in range(batch):
        row, cls = [], []
        for i in range(length):
            if i % 2 == 0:
                low = 1 if row and row[-1] == "/" else 0
                d = int(torch.randint(low, 10, (1,), generator=g))
                row.append(d)
                cls.append(d)
            else:
                o = int(torch.randint(0, 4, (1,), generator=g))
                row.append(OPERATORS[o])
                cls.append(10 + o)
        tokens.append(row)
        classes.append(cls)
    images = _render(torch.tensor(classes), _templates(14, 45, seed + 1), g, 0.5, 1.0)
    labels = torch.tensor([float(evaluate_tokens(t)) for t in tokens])
    return Batch(images, labels, tokens)
