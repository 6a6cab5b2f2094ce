"""Sparse block codes, the vector-symbolic algebra of NVSA's back end, with the release's operators.

A vector of dimension ``d`` is ``k`` blocks of length ``l = d / k`` (NVSA: d = 1024, k = 4); a
codeword has one 1 per block, so it is ``1 - k/d`` zeros (99.6% at the released size).
- bind: blockwise circular convolution, done as the release does it, as a grouped ``conv1d`` over
  circularly padded input (one group per block), not an FFT;
- unbind: blockwise circular correlation (the same grouped ``conv1d``, the pad on the other side);
- similarity: the blockwise dot product, summed over blocks and divided by k;
- bundle: a sum (a superposition; PMF-to-vector is a weighted bundle, a matrix product).
For one-hot blocks, binding adds the blocks' positions modulo l, which is what lets NVSA's
codebooks turn arithmetic on attribute values into binding (fractional power encoding).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def bind(a: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
    """Blockwise circular convolution of ``[..., d]`` vectors, broadcast over the leading axes."""
    a, b = torch.broadcast_tensors(a, b)
    lead, d = a.shape[:-1], a.shape[-1]
    bl = d // k
    groups = a.numel() // bl
    x = a.reshape(1, groups, bl)
    w = torch.flip(b.reshape(groups, 1, bl), dims=[-1])
    out = F.conv1d(F.pad(x, (bl - 1, 0), mode="circular"), w, groups=groups)
    return out.reshape(*lead, d)


def unbind(a: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
    """Blockwise circular correlation: ``unbind(bind(x, y), y) == x`` for codewords."""
    a, b = torch.broadcast_tensors(a, b)
    lead, d = a.shape[:-1], a.shape[-1]
    bl = d // k
    groups = a.numel() // bl
    out = F.conv1d(F.pad(a.reshape(1, groups, bl), (0, bl - 1), mode="circular"), b.reshape(groups, 1, bl),
                   groups=groups)
    return out.reshape(*lead, d)


def similarity(a: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
    """Blockwise dot product summed over blocks, divided by k: 1 for equal codewords, 0 for disjoint."""
    return (a * b).sum(-1) / k


def codebook(n: int, d: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """``[n, d]`` codewords of values 0..n-1 by fractional power encoding: value v has, in block j,
    its one at position ``v * step_j mod l`` (l the block length) with a random step per block, so bind(v_a, v_b) is
    v_{a+b} (for a + b < l) and unbind(v_a, v_b) is v_{a-b}."""
    bl = d // k
    steps = torch.randint(1, bl, (k,), generator=generator)
    pos = (torch.arange(n)[:, None] * steps[None, :]) % bl            # [n, k]
    book = torch.zeros(n, k, bl)
    book.scatter_(2, pos[..., None], 1.0)
    return book.reshape(n, d)


def random_codewords(n: int, d: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """``[n, d]`` independent random codewords (one random position per block)."""
    bl = d // k
    pos = torch.randint(0, bl, (n, k), generator=generator)
    book = torch.zeros(n, k, bl)
    book.scatter_(2, pos[..., None], 1.0)
    return book.reshape(n, d)
