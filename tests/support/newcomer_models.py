"""User models as a newcomer writes them (issue 26): a wrong return, a shape bug, typed params, and
models of several inputs. Loaded as ``newcomer_models:NAME``."""
from __future__ import annotations

import torch


def only_model(width: int = 4):
    """Returns a bare module, forgetting the input factory."""
    return torch.nn.Linear(width, width)


def shape_bug(width: int = 8):
    """The input has the wrong width for the first layer: fails in every sample."""
    model = torch.nn.Sequential(torch.nn.Linear(width, 4), torch.nn.ReLU())
    return model, lambda i: torch.randn(2, width + 3, generator=torch.Generator().manual_seed(i))


def typed(batch: int = 2, scale: float = 1.0, mode: str = "sum"):
    """Annotated params: the config's values are checked against these annotations."""
    model = torch.nn.Linear(4, 4)
    return model, lambda i: torch.randn(batch, 4, generator=torch.Generator().manual_seed(i)) * scale


class _TwoInputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(8, 4), torch.nn.Linear(6, 4)

    def forward(self, x, y):
        return self.a(x) + self.b(y)


def two_inputs():
    """forward(x, y): the input factory returns a tuple, spread into positional arguments."""
    def make(i):
        g = torch.Generator().manual_seed(i)
        return torch.randn(3, 8, generator=g), torch.randn(3, 6, generator=g)
    return _TwoInputs(), make


class _TinyEncoder(torch.nn.Module):
    """A Transformer-style forward(input_ids, attention_mask)."""

    def __init__(self, vocab: int = 50, dim: int = 16):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.out = torch.nn.Linear(dim, 2)

    def forward(self, input_ids, attention_mask):
        h = self.embed(input_ids) * attention_mask.unsqueeze(-1)
        return self.out(h.sum(1) / attention_mask.sum(1, keepdim=True))


def keyword_inputs():
    """The input factory returns a dict, passed as keyword arguments."""
    def make(i):
        g = torch.Generator().manual_seed(i)
        ids = torch.randint(0, 50, (2, 7), generator=g)
        return {"attention_mask": torch.ones(2, 7), "input_ids": ids}
    return _TinyEncoder(), make


def perceive_then_deduce(objects: int = 12, seed: int = 0):
    """A newcomer's neuro-symbolic pipeline: a scorer labels objects, then plain Python deduces facts
    with the shapes symbolic code has (comparisons, dict and set work, loops over symbols, recursion),
    written with no knowledge of nscharacterize's rule names."""
    from nscharacterize.workloads.base import Component, Workload

    scorer = torch.nn.Linear(8, 4).eval()

    def perceive(x):
        with torch.no_grad():
            return [f"shape{c}" for c in scorer(x).argmax(-1).tolist()]

    def same_shape(a, b):
        return a[1] == b[1]

    def derive_facts(labels):
        objects_ = list(enumerate(labels))
        facts = {}
        for a in objects_:
            for b in objects_:
                if a[0] < b[0] and same_shape(a, b):
                    facts.setdefault(a[0], set()).add(b[0])
        return facts

    def prove(facts, start, goal, seen):
        if start == goal:
            return True
        seen.add(start)
        return any(prove(facts, nxt, goal, seen) for nxt in facts.get(start, ()) if nxt not in seen)

    def deduce(labels):
        facts = derive_facts(labels * 4)
        return sum(prove(facts, s, g, set()) for s in list(facts)[:10] for g in range(0, len(labels) * 4, 3))

    def samples(n):
        g = torch.Generator().manual_seed(seed)
        return [torch.randn(objects, 8, generator=g) for _ in range(n)]

    return Workload("perceive-then-deduce", [Component("perceive", perceive, "neural", "torch", (scorer,)),
                                             Component("deduce", deduce, "symbolic", "cprofile")], samples)
