"""Workloads with a slowdown planted in one component, for the gate's power study and tests.

A slowdown is planted by repeating real work inside one component (``repeat=2`` runs that
component's function twice per sample: the same ops, so the same categories, twice the time), never
by sleeping, so the planted component is measured by the profiler exactly as the unchanged one.

- ``planted``: any built-in workload with one component repeated (the built-in smoke workloads).
- ``lm_cnn_logic``: what a user writes: a tiny Transformer language model, a digit CNN and a
  Python logic step over their outputs; ``repeat`` repeats one named component.
"""
from __future__ import annotations

import torch

from nscharacterize.workloads import registry
from nscharacterize.workloads.base import Component, Workload, WorkloadError


def _repeated(fn, times: int):
    def run(x):
        out = fn(x)
        for _ in range(times - 1):
            out = fn(x)
        return out
    return run


def _plant(workload: Workload, component: str | None, repeat: int) -> Workload:
    if repeat < 1:
        raise WorkloadError(f"repeat must be at least 1, got {repeat}", "pass repeat: 1 (unchanged) or more", key="repeat")
    if component is None or repeat == 1:
        return workload
    names = [c.name for c in workload.components]
    if component not in names:
        raise WorkloadError(f"no component {component!r} (has {names})", "name one of its components", key="component")
    comps = [Component(c.name, _repeated(c.fn, repeat), c.kind, c.profiler, c.modules) if c.name == component else c
             for c in workload.components]
    workload.components = comps
    workload.info = {**workload.info, "planted": {"component": component, "repeat": repeat}}
    return workload


def planted(workload: str = "mlp-demo", params: dict | None = None, component: str | None = None, repeat: int = 1,
            seed: int = 0) -> Workload:
    """The built-in ``workload`` with ``component`` run ``repeat`` times per sample."""
    return _plant(registry.build(workload, params or {}, seed), component, repeat)


class TinyLM(torch.nn.Module):
    """A two-block causal Transformer language model over a 64-token vocabulary."""

    def __init__(self, vocab: int = 64, dim: int = 32, blocks: int = 2, context: int = 16):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.pos = torch.nn.Parameter(torch.zeros(context, dim))
        layer = torch.nn.TransformerEncoderLayer(dim, 2, 2 * dim, dropout=0.0, batch_first=True)
        self.blocks = torch.nn.TransformerEncoder(layer, blocks, enable_nested_tensor=False)
        self.head = torch.nn.Linear(dim, vocab)
        self.register_buffer("mask", torch.nn.Transformer.generate_square_subsequent_mask(context))

    def forward(self, tokens):
        h = self.embed(tokens) + self.pos[: tokens.shape[1]]
        return self.head(self.blocks(h, mask=self.mask[: tokens.shape[1], : tokens.shape[1]], is_causal=True))


class DigitCNN(torch.nn.Module):
    """A LeNet-sized CNN over 28x28 digit images."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(16 * 7 * 7, 10))

    def forward(self, x):
        return self.net(x)


def lm_cnn_logic(batch: int = 4, context: int = 16, digits: int = 8, repeat: int = 1, component: str = "lm",
                 seed: int = 0) -> Workload:
    """A user's neuro-symbolic pipeline: LM next-token guesses, digit recognition, then Python rules
    that check the recognised digits against the LM's guesses; ``component`` runs ``repeat`` times."""
    torch.manual_seed(seed)
    lm, cnn = TinyLM(context=context).eval(), DigitCNN().eval()

    def language(x):
        with torch.no_grad():
            logits = lm(x["tokens"])
        return {**x, "guess": logits[:, -1].argmax(-1).tolist()}

    def vision(x):
        with torch.no_grad():
            x["digits"] = cnn(x["images"]).argmax(-1).tolist()
        return x

    def logic(x):
        # A symbolic check: which recognised digits are consistent with some guess (mod 10),
        # with every pair's sum tested for parity as a tiny rule base.
        guesses = {g % 10 for g in x["guess"]}
        consistent = [d for d in x["digits"] if d in guesses]
        pairs = sum(1 for a in x["digits"] for b in x["digits"] if (a + b) % 2 == 0)
        return {"consistent": consistent, "even_pairs": pairs}

    def samples(n):
        g = torch.Generator().manual_seed(seed)
        return [{"tokens": torch.randint(0, 64, (batch, context), generator=g),
                 "images": torch.randn(digits, 1, 28, 28, generator=g)} for _ in range(n)]

    wl = Workload("lm-cnn-logic", [Component("lm", language, "neural", "torch", (lm,)),
                                   Component("cnn", vision, "neural", "torch", (cnn,)),
                                   Component("logic", logic, "symbolic", "cprofile")], samples)
    return _plant(wl, component, repeat)
