"""User workloads as a user would write them, loaded by the tests through `module:factory`."""
from __future__ import annotations

import torch

from nscharacterize.workloads.base import Component, Workload


def tiny_cnn(channels: int = 8):
    """An nn.Module plus an input factory: the one-component form."""
    model = torch.nn.Sequential(torch.nn.Conv2d(3, channels, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(channels, 4))
    return model, lambda i: torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(i))


def self_compiled_mlp(width: int = 64):
    """A factory that calls torch.compile itself (not through the config's compile key)."""
    model = torch.nn.Sequential(torch.nn.Linear(32, width), torch.nn.GELU(), torch.nn.LayerNorm(width),
                                torch.nn.Linear(width, 8))
    return torch.compile(model), lambda i: torch.randn(4, 32, generator=torch.Generator().manual_seed(i))


def perception_and_rules(objects: int = 5, seed: int = 0) -> Workload:
    """A two-stage neuro-symbolic pipeline: a neural scorer, then Python rules over its output."""
    scorer = torch.nn.Linear(16, 3).eval()

    def perceive(x):
        with torch.no_grad():
            return scorer(x).argmax(-1).tolist()

    def rules(labels):
        return sum(1 for a in labels for b in labels if a == b)

    def samples(n):
        g = torch.Generator().manual_seed(seed)
        return [torch.randn(objects, 16, generator=g) for _ in range(n)]

    return Workload("perception-and-rules",
                    [Component("perceive", perceive, "neural", "torch"),
                     Component("rules", rules, "symbolic", "cprofile")], samples)


def lists_a_module_it_never_calls():
    """Declares a module for compile mode but computes without it: nothing can be compiled."""
    declared = torch.nn.Linear(16, 3)

    def perceive(x):
        return (x * 2).sum(-1)

    return Workload("lists-a-module", [Component("perceive", perceive, "neural", "torch", modules=(declared,))],
                    lambda n: [torch.randn(4, 16) for _ in range(n)])


def broken(fail_at: int = 1):
    """Raises on the second sample, after the first was profiled."""
    calls = {"n": 0}

    def step(x):
        calls["n"] += 1
        if x >= fail_at:
            raise RuntimeError(f"planted failure on sample {x}")
        return torch.ones(4) * x

    return Workload("broken", [Component("step", step)], lambda n: list(range(n)))


def embedding_lookup(vocab: int = 5000, dim: int = 64, tokens: int = 4096, padding_idx: int | None = None):
    """Only an nn.Embedding lookup: all of its time is Embedding (the index_select it runs inside)."""
    table = torch.nn.Embedding(vocab, dim, padding_idx=padding_idx)

    def ids(i):
        g = torch.Generator().manual_seed(i)
        x = torch.randint(0, vocab, (tokens,), generator=g)
        if padding_idx is not None:
            x[::4] = padding_idx
        return x
    return table, ids


def embedding_bag_offsets(vocab: int = 5000, dim: int = 64, tokens: int = 4096, bags: int = 64):
    """nn.EmbeddingBag over 1-D indices with offsets (mode sum)."""
    table = torch.nn.EmbeddingBag(vocab, dim, mode="sum")

    class Bag(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.table = table

        def forward(self, x, offsets):   # the input factory's tuple arrives as two arguments
            return self.table(x, offsets)

    def inputs(i):
        g = torch.Generator().manual_seed(i)
        return (torch.randint(0, vocab, (tokens,), generator=g), torch.arange(0, tokens, tokens // bags))
    return Bag(), inputs
