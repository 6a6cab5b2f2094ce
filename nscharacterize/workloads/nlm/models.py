"""The three NLM policy networks (inference path) and the analytic size of their largest tensor.

| task        | depth | breadth | input                                   | readout                                  |
|-------------|-------|---------|-----------------------------------------|------------------------------------------|
| sort        | 3     | 2       | binary [B, n, n, 6]                     | binary 30 -> exclude-self -> Linear(30,1) |
| path        | 5     | 3       | unary [B, n, 2], binary [B, n, n, 2]    | unary 42 -> Linear(42, 1)                |
| blocksworld | 7     | 2       | [B, 2(n+1), 4] -> 'cmp' -> binary 12    | unary 56 -> two worlds side by side (112) -> 'concat' (224) + 'cmp' of the paired states (24) = 248 -> exclude-self -> Linear(248, 1) |

Each forward returns ``(policy, logits)``: softmax over the flattened action logits, clamped at
1e-20 as the original does.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .layers import InputTransform, LogicMachine, LogitsInference, meshgrid_exclude_self


def _in_dims(breadth: int, **by_arity: int) -> list[int]:
    dims = [0] * (breadth + 1)
    for key, width in by_arity.items():
        dims[int(key[1:])] = width
    return dims


def _softmax_policy(logits: torch.Tensor) -> torch.Tensor:
    return F.softmax(logits, dim=-1).clamp(min=1e-20)


class _Policy(nn.Module):
    depth: int
    breadth: int
    nlm: LogicMachine

    def largest_tensor(self, n: int) -> tuple[str, int]:
        """(description, floats) of the largest tensor one forward materialises at size n."""
        return max(self._tensor_sizes(n), key=lambda t: t[1])

    def _layer_sizes(self, objects: int) -> list[tuple[str, int]]:
        # Within a group, the permuted concatenation fed to the MLP is the widest tensor; the
        # reducer's masks are the size of the group above, whose own MLP input is wider.
        out = []
        for li, widths in enumerate(self.nlm.mlp_input_widths()):
            for arity, width in enumerate(widths):
                if width:
                    shape = "x".join(["1"] + [str(objects)] * arity + [str(width)])
                    out.append((f"layer {li} arity-{arity} MLP input [{shape}]", width * objects ** arity))
        return out

    def _tensor_sizes(self, n: int) -> list[tuple[str, int]]:
        raise NotImplementedError


class SortPolicy(_Policy):
    def __init__(self, depth: int = 3, breadth: int = 2, attributes: int = 8, hidden=()):
        super().__init__()
        self.depth, self.breadth = depth, breadth
        self.nlm = LogicMachine(depth, breadth, _in_dims(breadth, g2=6), attributes, hidden)
        self.readout_dim = self.nlm.out_dims[2]
        self.head = LogitsInference(self.readout_dim, 1)

    def forward(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        relations = states.float()
        groups: list[Optional[torch.Tensor]] = [None] * (self.breadth + 1)
        groups[2] = relations
        f = self.nlm(groups)[2]
        f = meshgrid_exclude_self(f)                       # [B, n, n-1, C]: ordered pairs i != j
        logits = self.head(f).squeeze(dim=-1).view(relations.size(0), -1)
        return _softmax_policy(logits), logits

    def _tensor_sizes(self, n: int) -> list[tuple[str, int]]:
        return self._layer_sizes(n) + [(f"readout [1x{n}x{n}x{self.readout_dim}]", self.readout_dim * n * n)]


class PathPolicy(_Policy):
    def __init__(self, depth: int = 5, breadth: int = 3, attributes: int = 8, hidden=()):
        super().__init__()
        self.depth, self.breadth = depth, breadth
        self.nlm = LogicMachine(depth, breadth, _in_dims(breadth, g1=2, g2=2), attributes, hidden)
        self.readout_dim = self.nlm.out_dims[1]
        self.head = LogitsInference(self.readout_dim, 1)

    def forward(self, states: torch.Tensor, relations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        states = states.float()
        relations = relations.float()
        groups: list[Optional[torch.Tensor]] = [None] * (self.breadth + 1)
        groups[1] = states
        groups[2] = relations
        f = self.nlm(groups)[1]                            # [B, n, C]: one logit per node
        logits = self.head(f).squeeze(dim=-1).view(relations.size(0), -1)
        return _softmax_policy(logits), logits

    def _tensor_sizes(self, n: int) -> list[tuple[str, int]]:
        return self._layer_sizes(n)


class BlocksWorldPolicy(_Policy):
    def __init__(self, depth: int = 7, breadth: int = 2, attributes: int = 8, hidden=()):
        super().__init__()
        self.depth, self.breadth = depth, breadth
        self.transform = InputTransform("cmp", exclude_self=False)       # 4 -> 12 binary channels
        self.state_dim = self.transform.out_channels(4)
        self.nlm = LogicMachine(depth, breadth, _in_dims(breadth, g2=self.state_dim), attributes, hidden)
        self.final_transform = InputTransform("concat", exclude_self=False)
        self.unary_dim = self.nlm.out_dims[1]
        paired = 2 * self.unary_dim                                     # both worlds side by side
        self.readout_dim = self.final_transform.out_channels(paired) + 2 * self.state_dim
        self.head = LogitsInference(self.readout_dim, 1)

    def forward(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        states = states.float()
        total = states.size(1)
        assert total % 2 == 0, "blocks world state holds two worlds of equal size"
        m = total // 2
        groups: list[Optional[torch.Tensor]] = [None] * (self.breadth + 1)
        groups[2] = self.transform(states)
        f = self.nlm(groups)[1]                                         # [B, 2m, C]
        f = torch.cat([f[:, :m], f[:, m:]], dim=-1)                     # object k: start | target
        paired_states = torch.cat([states[:, :m], states[:, m:]], dim=-1)
        f = torch.cat([self.final_transform(f), self.transform(paired_states)], dim=-1)
        f = meshgrid_exclude_self(f)                                    # [B, m, m-1, 248]: moves x -> y
        logits = self.head(f).squeeze(dim=-1).view(states.size(0), -1)
        return _softmax_policy(logits), logits

    def _tensor_sizes(self, n: int) -> list[tuple[str, int]]:
        m = n + 1
        return self._layer_sizes(2 * m) + [(f"readout [1x{m}x{m}x{self.readout_dim}]", self.readout_dim * m * m)]


POLICIES = {"sort": SortPolicy, "path": PathPolicy, "blocksworld": BlocksWorldPolicy}
