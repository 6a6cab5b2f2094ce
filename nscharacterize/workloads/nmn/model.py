"""IEP's execution engine (Johnson et al. 2017, facebookresearch/clevr-iep ``ModuleNet``), written
from its architecture facts, with the three schedules of :mod:`.programs`.

- Stem: ``stem_layers`` 3x3 convolutions + ReLU from the image features (ResNet-101 conv4,
  1024 x 14 x 14) to ``module_dim`` (128) channels; IEP's default has no batch norm.
- One module per program token. Unary functions (and ``scene``, which reads the stem output) are
  residual blocks: conv3x3 - ReLU - conv3x3, plus the input, ReLU. Binary functions concatenate
  their two inputs, project 2*dim -> dim with a 1x1 convolution + ReLU, then run a residual block.
- Classifier on the root module's output: 1x1 conv to ``classifier_proj_dim`` (512) + ReLU, 2x2
  max pooling, flatten, fully connected ``classifier_fc`` (1024) + ReLU, then the answer layer.

Weights are random (fixed seed): the work per call does not depend on trained values.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .programs import Call, Program, arity, schedule

# CLEVR's answers (yes/no, counts 0-10, the 15 attribute values) and IEP's four special tokens.
ANSWERS = (["<NULL>", "<START>", "<END>", "<UNK>", "yes", "no"] + [str(i) for i in range(11)]
           + ["gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow", "rubber", "metal",
              "cube", "sphere", "cylinder", "large", "small"])
CALL_RANGE = "nmn.module_call"   # a profiler range around every module call: its count is the calls


class ResidualBlock(nn.Module):
    """conv3x3 - ReLU - conv3x3, added to the input, ReLU (IEP's unary module and stem-free scene)."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(dim, dim, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.conv2(F.relu(self.conv1(x))))


class ConcatBlock(nn.Module):
    """Binary module: concatenate along channels, 1x1 projection + ReLU, then a residual block."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(2 * dim, dim, kernel_size=1)
        self.res = ResidualBlock(dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.res(F.relu(self.proj(torch.cat([x, y], dim=1))))


def _stem(feature_dim: int, module_dim: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    prev = feature_dim
    for _ in range(layers):
        mods += [nn.Conv2d(prev, module_dim, kernel_size=3, padding=1), nn.ReLU()]
        prev = module_dim
    return nn.Sequential(*mods)


def _classifier(module_dim: int, size: int, proj_dim: int, fc_dim: int, answers: int) -> nn.Sequential:
    pooled = size // 2
    return nn.Sequential(nn.Conv2d(module_dim, proj_dim, kernel_size=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                         nn.Flatten(), nn.Linear(proj_dim * pooled * pooled, fc_dim), nn.ReLU(),
                         nn.Linear(fc_dim, answers))


class ModuleNet(nn.Module):
    """Stem, one module per token of ``tokens``, classifier; :meth:`execute` runs a batch of programs."""

    def __init__(self, tokens: Sequence[str], feature_dim: int = 1024, feature_size: int = 14,
                 module_dim: int = 128, stem_layers: int = 2, classifier_proj_dim: int = 512,
                 classifier_fc: int = 1024, answers: int = len(ANSWERS)):
        super().__init__()
        self.stem = _stem(feature_dim, module_dim, stem_layers)
        self.classifier = _classifier(module_dim, feature_size, classifier_proj_dim, classifier_fc, answers)
        self.function_modules = nn.ModuleDict(
            {_key(t): (ConcatBlock(module_dim) if arity(t) == 2 else ResidualBlock(module_dim)) for t in tokens})
        self.tokens = list(tokens)

    def module(self, tok: str) -> nn.Module:
        key = _key(tok)
        if key not in self.function_modules:
            raise KeyError(f"program token {tok!r} has no module (the module set is built from the vocabulary)")
        return self.function_modules[key]

    def execute(self, features: torch.Tensor, programs: Sequence[Program], mode: str) -> torch.Tensor:
        """Answer logits ``[b, answers]`` for ``programs`` on image ``features`` ``[b, C, H, W]``."""
        return self.run_calls(features, programs, schedule(programs, mode))

    def run_calls(self, features: torch.Tensor, programs: Sequence[Program], calls: Sequence[Call]) -> torch.Tensor:
        stem = self.stem(features)                       # the stem and classifier run batched in every mode
        values: dict[tuple[int, int], torch.Tensor] = {}
        for call in calls:
            with torch.profiler.record_function(CALL_RANGE):
                if call.token == "scene":
                    args = [_rows(stem, [q for q, _ in call.nodes])]
                else:
                    ins = [programs[q][j]["inputs"] for q, j in call.nodes]
                    args = [_stack([values[(q, i[k])] for (q, _), i in zip(call.nodes, ins)])
                            for k in range(len(ins[0]))]
                out = self.module(call.token)(*args)
            if len(call.nodes) == 1:
                values[call.nodes[0]] = out
            else:
                for ref, piece in zip(call.nodes, out.split(1)):
                    values[ref] = piece
        roots = _stack([values[(q, len(prog) - 1)] for q, prog in enumerate(programs)])
        return self.classifier(roots)


def _key(tok: str) -> str:
    """ModuleDict keys may not contain '.'; tokens never do, but brackets are kept readable."""
    return tok.replace(".", "_")


def _rows(x: torch.Tensor, index: list[int]) -> torch.Tensor:
    """Rows of a batch: a slice for one (as IEP's per-example loop), a gather for several."""
    if len(index) == 1:
        return x[index[0]:index[0] + 1]
    return x.index_select(0, torch.tensor(index, device=x.device))


def _stack(parts: list[torch.Tensor]) -> torch.Tensor:
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)
