"""PrAE's object CNN: per panel, a distribution over each attribute's values.

The release's perception for a single-object panel is four 3x3 convolutions with stride 2 (32
channels, batch norm, ReLU) and one MLP head per attribute ending in a log-softmax; random weights
here, as everywhere in this project.
"""
from __future__ import annotations

import torch


class Perception(torch.nn.Module):
    def __init__(self, sizes: dict[str, int], channels: int, image_size: int):
        super().__init__()
        layers, c_in, side = [], 1, image_size
        for _ in range(4):
            layers += [torch.nn.Conv2d(c_in, channels, 3, stride=2, padding=1), torch.nn.BatchNorm2d(channels),
                       torch.nn.ReLU()]
            c_in, side = channels, (side + 1) // 2
        self.trunk = torch.nn.Sequential(*layers, torch.nn.Flatten())
        feat = channels * side * side
        # ModuleDict keys may not shadow Module attributes ("type"): the heads are named head_<attribute>
        self.heads = torch.nn.ModuleDict({f"head_{a}": torch.nn.Sequential(torch.nn.Linear(feat, 128), torch.nn.ReLU(),
                                                                 torch.nn.Linear(128, n))
                                          for a, n in sizes.items()})

    def forward(self, panels: torch.Tensor) -> dict:
        h = self.trunk(panels)
        return {name.removeprefix("head_"): torch.log_softmax(head(h), -1) for name, head in self.heads.items()}
