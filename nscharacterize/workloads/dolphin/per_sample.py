"""Per-sample provenance in pure Python: how a CPU backend (Scallop's, the baselines Dolphin is
measured against) computes a program one sample at a time.

Each sample's distribution is a dict ``symbol -> tag``; applying the step enumerates that
sample's symbol pairs, multiplies their tags and adds the tags of equal results. The tags:

* :class:`AddMult` (``damp``): a float.
* :class:`DualAddMult` (``damp`` with gradients): a dual number ``(value, {fact: d value / d p})``,
  the forward-mode derivative Scallop's differentiable add-mult provenance carries.
* :class:`TopKProofs` (``dtkp-am``): up to k proofs, each ``(probability, {position: (column,
  p)})``; the gradient of a symbol's probability is read off its proofs at the end.

A fact is one input position choosing one CNN output column; its index in the Jacobian is
``position * classes + column``. The functions are named for what they do so that the cProfile
breakdown (nscharacterize/taxonomy/rules/python.yaml) can sort them into the Fig. 7 categories.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from .programs import Program, ordered_unique


class AddMult:
    name = "damp"

    def leaf(self, p: float, fact: tuple[int, int]):
        return p

    def tag_mul(self, a, b):
        return a * b

    def tag_add(self, a, b):
        return a + b

    def tag_clamp(self, a):
        return 1.0 if a > 1.0 else a

    def tag_prob(self, a) -> float:
        return a

    def tag_gradient(self, a) -> dict:
        return {}


class DualAddMult(AddMult):
    """Add-mult probabilities as dual numbers: ``(value, sparse gradient over input facts)``."""

    def leaf(self, p: float, fact: tuple[int, int]):
        return (p, {fact: 1.0})

    def tag_mul(self, a, b):
        va, ga = a
        vb, gb = b
        grad = {}
        for f, d in ga.items():
            grad[f] = d * vb
        for f, d in gb.items():
            grad[f] = grad.get(f, 0.0) + d * va
        return (va * vb, grad)

    def tag_add(self, a, b):
        va, ga = a
        vb, gb = b
        grad = dict(ga)
        for f, d in gb.items():
            grad[f] = grad.get(f, 0.0) + d
        return (va + vb, grad)

    def tag_clamp(self, a):
        return (1.0, {}) if a[0] > 1.0 else a

    def tag_prob(self, a) -> float:
        return a[0]

    def tag_gradient(self, a) -> dict:
        return a[1]


class TopKProofs:
    """Top-k proofs with add-mult probabilities (DTKP-AM)."""

    name = "dtkp-am"

    def __init__(self, k: int):
        self.k = k

    def leaf(self, p: float, fact: tuple[int, int]):
        position, column = fact
        return [(p, {position: (column, p)})]

    def tag_mul(self, a, b):
        conj = []
        for pa, fa in a:
            for pb, fb in b:
                facts = proof_union(fa, fb)
                if facts is not None:
                    conj.append((pa * pb, facts))
        return best_proofs(conj, self.k)

    def tag_add(self, a, b):
        return best_proofs(a + b, self.k)

    def tag_clamp(self, a):
        return a

    def tag_prob(self, a) -> float:
        total = 0.0
        for p, _ in a:
            total += p
        return 1.0 if total > 1.0 else total

    def tag_gradient(self, a) -> dict:
        """d P / d p_f = sum over the proofs using fact f of the product of their other facts."""
        if self.tag_prob(a) >= 1.0:
            return {}
        grad: dict = {}
        for _, facts in a:
            chosen = []
            for pos, (col, p) in facts.items():
                chosen.append(((pos, col), p))
            for i, (fact, _) in enumerate(chosen):
                others = 1.0
                for j, (_, q) in enumerate(chosen):
                    if j != i:
                        others *= q
                grad[fact] = grad.get(fact, 0.0) + others
        return grad


def proof_union(fa: dict, fb: dict) -> dict | None:
    """Conjunction of two proofs; None when they choose different symbols at one position."""
    for pos, (col, _) in fb.items():
        mine = fa.get(pos)
        if mine is not None and mine[0] != col:
            return None
    return {**fa, **fb}


def best_proofs(proofs: list, k: int) -> list:
    return proofs if len(proofs) <= k else heapq.nlargest(k, proofs, key=proof_probability)


def proof_probability(proof) -> float:
    return proof[0]


def make_provenance(name: str, k: int, with_gradient: bool):
    if name == "damp":
        return DualAddMult() if with_gradient else AddMult()
    return TopKProofs(k)


def input_facts(program: Program, prov, rows: list[list[float]]) -> list[dict]:
    """One sample's input distributions: per position, its symbols with their leaf tags."""
    dists = []
    for pos, (symbols, (lo, _hi)) in enumerate(zip(program.symbols, program.columns)):
        row = rows[pos]
        dists.append({s: prov.leaf(row[lo + j], (pos, lo + j)) for j, s in enumerate(symbols)})
    return dists


def keep_top_symbols(prov, dist: dict, k: int | None) -> dict:
    """This sample's k most probable symbols (Dolphin's ``sample_top_k`` seen from one sample)."""
    if k is None or k >= len(dist):
        return dist
    best = heapq.nlargest(k, dist.items(), key=lambda item: prov.tag_prob(item[1]))
    return dict(best)


def combine_symbols(prov, a: dict, b: dict, step) -> dict:
    """Applies the step to every symbol pair of one sample; equal results add their tags."""
    out: dict = {}
    for sa, ta in a.items():
        for sb, tb in b.items():
            r = step(sa, sb)
            t = prov.tag_mul(ta, tb)
            out[r] = prov.tag_add(out[r], t) if r in out else t
    return {r: prov.tag_clamp(t) for r, t in out.items()}


def relabel_symbols(prov, dist: dict, fn) -> dict:
    out: dict = {}
    for s, t in dist.items():
        r = fn(s)
        out[r] = prov.tag_add(out[r], t) if r in out else t
    return {r: prov.tag_clamp(t) for r, t in out.items()}


def reason_one_sample(program: Program, prov, rows: list[list[float]]) -> dict:
    """The whole program for one sample: ``{result symbol: tag}``."""
    return program.fold(input_facts(program, prov, rows),
                        keep_top=lambda d, k: keep_top_symbols(prov, d, k),
                        combine=lambda a, b, step: combine_symbols(prov, a, b, step),
                        relabel=lambda d, fn: relabel_symbols(prov, d, fn))


@dataclass
class BatchResult:
    """The batch's output aligned on one symbol list: ``values[b][r]`` and, with gradients, the
    sparse Jacobian as four columns ``(samples, result columns, input fact indices, derivatives)``;
    ``per_sample`` keeps each sample's own ``{symbol: probability}``."""

    symbols: list
    values: list[list[float]]
    jacobian: tuple[list, list, list, list] | None
    per_sample: list[dict]


def reason_batch(program: Program, prov, probs: list, classes: int, with_gradient: bool) -> BatchResult:
    """Runs every sample of the batch one after the other; ``probs`` is [B][positions][classes]."""
    results = [reason_one_sample(program, prov, rows) for rows in probs]
    symbols, _ = ordered_unique([s for res in results for s in res])
    column = {s: i for i, s in enumerate(symbols)}
    values, own = [], []
    jacobian = ([], [], [], []) if with_gradient else None
    for b, res in enumerate(results):
        row = [0.0] * len(symbols)
        mine = {}
        for s, tag in res.items():
            r = column[s]
            row[r] = mine[s] = prov.tag_prob(tag)
            if jacobian is not None:
                for (pos, col), d in prov.tag_gradient(tag).items():
                    jacobian[0].append(b)
                    jacobian[1].append(r)
                    jacobian[2].append(pos * classes + col)
                    jacobian[3].append(d)
        values.append(row)
        own.append(mine)
    return BatchResult(symbols, values, jacobian, own)
