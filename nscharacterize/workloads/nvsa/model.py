"""NVSA (Hersche et al., Nature Machine Intelligence 2023) on RAVEN-style matrices: the neural
front end and the vector-symbolic back end, written after the release's structure.

Front end: a ResNet-18 per panel maps the panel to a query vector in the d-dimensional block-code
space; its similarity with the dictionary of object codewords (every type x size x colour
combination, each the binding of its attribute codewords) goes through a softmax, and
marginalising that joint PMF gives one PMF per attribute and panel.

Back end (all block-code algebra, :mod:`.blockcodes`): each PMF becomes a vector as a weighted
bundle of the attribute's codewords (a matrix product); rule detection scores constant,
progression, arithmetic and distribute three on the two complete rows by chains of element-wise
products of similarities; execution applies the detected rule to the third row; answer selection
compares the prediction with the eight candidates' vectors.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..raven_common import ATTRIBUTES, RULES
from .blockcodes import bind, codebook, similarity, unbind


class Frontend(torch.nn.Module):
    """ResNet-18 (torchvision's, random weights) over one-channel panels, ending in a d-vector."""

    def __init__(self, d: int):
        super().__init__()
        import torchvision

        net = torchvision.models.resnet18(weights=None, num_classes=d)
        net.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.net = net

    def forward(self, panels: torch.Tensor) -> torch.Tensor:
        return self.net(panels)


class Codebooks:
    """The attribute codebooks (fractional power encoding, so binding adds values) and the object
    dictionary the front end is compared with."""

    def __init__(self, sizes: dict[str, int], d: int, k: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.d, self.k = d, k
        self.sizes = sizes
        self.books = {a: codebook(sizes[a], d, k, g) for a in ATTRIBUTES}
        # each attribute also gets a random role vector, so that objects with equal value indices in
        # different attributes are distinct codewords
        roles = {a: codebook(2, d, k, g)[1] for a in ATTRIBUTES}
        t, s, c = (bind(self.books[a], roles[a], k) for a in ATTRIBUTES)
        objects = bind(bind(t[:, None, None, :], s[None, :, None, :], k), c[None, None, :, :], k)
        self.dictionary = objects.reshape(-1, d)                        # [n_t * n_s * n_c, d]

    def to(self, device: str) -> None:
        self.books = {a: b.to(device) for a, b in self.books.items()}
        self.dictionary = self.dictionary.to(device)


def perceive(frontend: Frontend, books: Codebooks, panels: torch.Tensor, temperature: float) -> dict:
    """Panels ``[16, 1, px, px]`` -> one PMF per attribute, ``{attribute: [16, n_values]}``."""
    with torch.no_grad():
        query = frontend(panels)                                          # [16, d]
        sim = F.linear(query, books.dictionary) / books.k                 # block-wise dot products
        joint = torch.softmax(sim / temperature, dim=-1)
        joint = joint.reshape(-1, *(books.sizes[a] for a in ATTRIBUTES))
        return {"type": joint.sum((2, 3)), "size": joint.sum((1, 3)), "color": joint.sum((1, 2))}


def pmf_to_vector(books: Codebooks, pmfs: dict) -> torch.Tensor:
    """``[attributes, 16, d]``: each PMF as the weighted bundle of its attribute's codewords."""
    return torch.stack([F.linear(pmfs[a], books.books[a].t()) for a in ATTRIBUTES])


def _rows(v: torch.Tensor):
    """Context vectors ``[A, 16, d]`` -> the two complete rows ``[A, 2, 3, d]`` and row three's two
    panels ``[A, 2, d]`` (context panels are row-major with the ninth left out)."""
    return v[:, :6].reshape(v.shape[0], 2, 3, -1), v[:, 6:8]


def rule_scores(books: Codebooks, v: torch.Tensor) -> torch.Tensor:
    """``[A, 4]``: the score of each rule (RULES order) per attribute, the product over the two
    complete rows of each row's similarity with what the rule predicts."""
    k = books.k
    rows, _ = _rows(v)
    a, b, c = rows[..., 0, :], rows[..., 1, :], rows[..., 2, :]           # [A, 2, d]
    one = torch.stack([books.books[x][1] for x in ATTRIBUTES])[:, None, :]  # value "1": RAVEN counts from 1
    constant = similarity(a, b, k) * similarity(b, c, k)
    delta = unbind(b, a, k)
    progression = similarity(bind(b, delta, k), c, k) * similarity(unbind(c, b, k), delta, k)
    plus = similarity(bind(bind(a, b, k), one, k), c, k)
    minus = similarity(unbind(unbind(a, b, k), one, k), c, k)
    arithmetic = torch.maximum(plus, minus)
    bundle = a + b + c
    distribute = similarity(bundle[:, 0], bundle[:, 1], k)[:, None] / 3 * (1 - constant)
    scores = torch.stack([constant, progression, arithmetic, distribute.expand_as(constant)], dim=-1)  # [A, 2, 4]
    # progression must keep its step from row to row
    scores[..., 1] = scores[..., 1] * similarity(delta[:, 0], delta[:, 1], k)[:, None]
    return scores.prod(dim=1)


def execute(books: Codebooks, v: torch.Tensor, rules: list[int]) -> torch.Tensor:
    """``[A, d]``: the ninth panel's vector per attribute under each attribute's detected rule."""
    k = books.k
    rows, third = _rows(v)
    out = []
    for i, rule in enumerate(rules):
        x, y = third[i, 0], third[i, 1]
        one = books.books[ATTRIBUTES[i]][1]
        name = RULES[rule]
        if name == "constant":
            out.append(y)
        elif name == "progression":
            out.append(bind(y, unbind(y, x, k), k))
        elif name == "arithmetic":
            plus = bind(bind(x, y, k), one, k)
            minus = unbind(unbind(x, y, k), one, k)
            r = rows[i]
            use_plus = similarity(bind(bind(r[:, 0], r[:, 1], k), one, k), r[:, 2], k).sum() >= \
                similarity(unbind(unbind(r[:, 0], r[:, 1], k), one, k), r[:, 2], k).sum()
            out.append(plus if bool(use_plus) else minus)
        else:
            out.append(rows[i, 0].sum(0) - x - y)
    return torch.stack(out)


def select_answer(books: Codebooks, v: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    """``[8]`` log-scores of the candidates: the sum over attributes of the log similarity between
    the prediction and the candidate's vector."""
    cand = v[:, 8:16]                                                     # [A, 8, d]
    sim = similarity(cand, predicted[:, None, :], books.k)                # [A, 8]
    return torch.log(sim.clamp_min(1e-6)).sum(0)
