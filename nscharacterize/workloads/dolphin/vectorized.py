"""Vectorized provenance, Dolphin's way: one distribution holds the whole batch.

A :class:`BatchedDist` is a list of symbols shared by the batch plus a tag tensor whose first two
dimensions are ``[batch, symbols]``. Applying the program's step to two distributions runs the
step in Python once per *symbol pair* (not per sample), then does all the probability work as
batched tensor ops on the device: a batched outer product of the tags, a scatter (DAMP) or a
gather plus top-k (DTKP-AM) into the result symbols. Every op here is differentiable, so a
training step backpropagates through the provenance into the CNN.

Two provenances, as Dolphin defines them:

* ``damp`` (add-mult probabilities): a tag is a probability; conjunction multiplies, disjunction
  adds and clamps to [0, 1]. Tags ``[B, S]``.
* ``dtkp-am`` (differentiable top-k proofs, add-mult): a tag is ``[k, F]``, up to k proofs over
  the F input facts seen so far (one fact per input position, mutually exclusive symbols share
  it). Entry ``[i, f]`` holds the probability of the symbol proof i chooses for fact f, or
  :data:`NULL` (fact not used) or :data:`ABSENT` (no i-th proof). Conjunction unions every pair
  of proofs (conflicting choices give an absent proof) and keeps the k most probable; disjunction
  concatenates proofs and keeps the k most probable; a tag's probability is the sum over its
  proofs of the product of their facts, clamped to [0, 1]. Tags ``[B, S, k, F]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from .programs import Program, ordered_unique

NULL = 2.0      # "fact not in this proof": any value > 1 (weight 1)
ABSENT = -2.0   # "no proof here": any value < -1 (weight 0)


@dataclass
class BatchedDist:
    symbols: list
    tags: torch.Tensor   # [B, S] (damp) or [B, S, k, F] (dtkp-am)


class AddMultTensor:
    """DAMP on tensors."""

    name = "damp"

    def leaf(self, probs: torch.Tensor) -> torch.Tensor:
        return probs

    def probabilities(self, tags: torch.Tensor) -> torch.Tensor:
        return tags

    def conjoin_pairs(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Every (symbol of a, symbol of b) pair, a-major: a batched outer product [B, Sa*Sb]."""
        return torch.bmm(a.unsqueeze(2), b.unsqueeze(1)).flatten(1)

    def disjoin_into(self, tags: torch.Tensor, index: list[int], n_out: int) -> torch.Tensor:
        """Adds the tags of equal result symbols (scatter-add) and clamps to [0, 1]."""
        idx = torch.tensor(index, device=tags.device).unsqueeze(0).expand(tags.shape[0], -1)
        out = torch.zeros(tags.shape[0], n_out, device=tags.device, dtype=tags.dtype)
        out.scatter_add_(1, idx, tags)
        return out.clamp(0.0, 1.0)

    def keep_only(self, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return tags * mask


class TopKProofsTensor:
    """DTKP-AM on tensors."""

    name = "dtkp-am"

    def __init__(self, k: int):
        self.k = k

    def leaf(self, probs: torch.Tensor) -> torch.Tensor:
        """One new fact: each symbol's first proof chooses it, the other k-1 proofs are absent."""
        b, s = probs.shape
        rest = torch.full((b, s, self.k - 1, 1), ABSENT, device=probs.device, dtype=probs.dtype)
        return torch.cat([probs.view(b, s, 1, 1), rest], dim=2)

    @staticmethod
    def weights(tags: torch.Tensor) -> torch.Tensor:
        """Per entry: NULL weighs 1, ABSENT 0, a fact its probability."""
        return torch.where(tags > 1, 1.0, torch.where(tags < -1, 0.0, tags.abs()))

    def probabilities(self, tags: torch.Tensor) -> torch.Tensor:
        return self.weights(tags).prod(-1).sum(-1).clamp(0.0, 1.0)

    def best_proofs(self, proofs: torch.Tensor) -> torch.Tensor:
        """The k most probable of ``[..., m, F]`` proofs."""
        idx = self.weights(proofs).prod(-1).topk(self.k, dim=-1).indices
        return proofs.gather(-2, idx.unsqueeze(-1).expand(*idx.shape, proofs.shape[-1]))

    @staticmethod
    def union(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Conjunction of two proofs, fact by fact: a fact chosen differently by both is a conflict
        (absent proof); otherwise the chosen value wins over NULL (the smaller of the two)."""
        conflict = (x != y) & (x.abs() <= 1) & (y.abs() <= 1)
        return torch.where(conflict, ABSENT, torch.minimum(x, y))

    def conjoin_pairs(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Tags of every (symbol of a, symbol of b) pair, a-major: [B, Sa*Sb, k, Fa+Fb]."""
        bsz, sa, k, fa = a.shape
        sb, fb = b.shape[1], b.shape[3]
        a = torch.cat([a, torch.full((bsz, sa, k, fb), NULL, device=a.device, dtype=a.dtype)], dim=3)
        b = torch.cat([torch.full((bsz, sb, k, fa), NULL, device=b.device, dtype=b.dtype), b], dim=3)
        a = a.repeat_interleave(sb, dim=1)                       # [B, P, k, F]
        b = b.repeat(1, sa, 1, 1)                                # [B, P, k, F]
        f = fa + fb
        x = a.repeat_interleave(k, dim=2)                        # proof i of a, k times each
        y = b.repeat(1, 1, k, 1)                                 # proofs of b, k times over
        return self.best_proofs(self.union(x, y).view(bsz, -1, k * k, f))

    def disjoin_into(self, tags: torch.Tensor, index: list[int], n_out: int) -> torch.Tensor:
        """Pools the proofs of equal result symbols and keeps the k best of each pool."""
        groups: list[list[int]] = [[] for _ in range(n_out)]
        for j, r in enumerate(index):
            groups[r].append(j)
        width = max(len(g) for g in groups)
        pad = tags.shape[1]                                      # the appended all-absent slot
        table = torch.tensor([g + [pad] * (width - len(g)) for g in groups], device=tags.device)
        bsz, _, k, f = tags.shape
        slot = torch.full((bsz, 1, k, f), ABSENT, device=tags.device, dtype=tags.dtype)
        pooled = torch.cat([tags, slot], dim=1)[:, table]         # [B, R, width, k, F]
        return self.best_proofs(pooled.view(bsz, n_out, width * k, f))

    def keep_only(self, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.where(mask[:, :, None, None], tags, ABSENT)


def make_provenance(name: str, k: int):
    return AddMultTensor() if name == "damp" else TopKProofsTensor(k)


def apply_step(prov, a: BatchedDist, b: BatchedDist, step: Callable[[Any, Any], Any]) -> BatchedDist:
    """Dolphin's ``apply``: the step runs in Python per symbol pair, the tags as tensor ops."""
    results = [step(x, y) for x in a.symbols for y in b.symbols]
    symbols, index = ordered_unique(results)
    return BatchedDist(symbols, prov.disjoin_into(prov.conjoin_pairs(a.tags, b.tags), index, len(symbols)))


def map_symbols(prov, d: BatchedDist, fn: Callable[[Any], Any]) -> BatchedDist:
    symbols, index = ordered_unique([fn(s) for s in d.symbols])
    return BatchedDist(symbols, prov.disjoin_into(d.tags, index, len(symbols)))


def keep_top_symbols(prov, d: BatchedDist, k: int | None) -> BatchedDist:
    """Dolphin's ``sample_top_k``: each sample keeps its k most probable symbols (the others'
    tags become zero) and the distribution keeps the union of those symbols over the batch."""
    if k is None or k > len(d.symbols):
        return d
    p = prov.probabilities(d.tags)
    p = p + (p.sum(dim=1, keepdim=True) == 0).to(p.dtype)      # an all-zero row keeps its first k
    top = p.topk(k, dim=1).indices
    kept = top.unique()
    mask = torch.zeros(p.shape, dtype=torch.bool, device=p.device).scatter_(1, top, True)
    tags = prov.keep_only(d.tags, mask)[:, kept]
    return BatchedDist([d.symbols[j] for j in kept.tolist()], tags)


def run_program(program: Program, prov, probs: torch.Tensor) -> BatchedDist:
    """Runs the program on CNN outputs ``probs`` [B, positions, classes] for the whole batch."""
    inputs = []
    for i, (lo, hi) in enumerate(program.columns):
        cols = probs[:, i] if (lo, hi) == (0, probs.shape[2]) else probs[:, i, lo:hi]
        inputs.append(BatchedDist(list(program.symbols[i]), prov.leaf(cols)))
    return program.fold(inputs, keep_top=lambda d, k: keep_top_symbols(prov, d, k),
                        combine=lambda a, b, step: apply_step(prov, a, b, step),
                        relabel=lambda d, fn: map_symbols(prov, d, fn))
