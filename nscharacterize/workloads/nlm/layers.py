"""Neural Logic Machine layers, re-implemented from the description of ``google/neural-logic-machines``.

Tensors are grouped by arity: group r holds predicates over r objects, shaped ``[B, n, ..., n, C]``
with r object axes. One :class:`LogicLayer` derives, for every group r = 0..breadth, the
concatenation of

* the *expansion* of group r-1 (a broadcast over one new object axis: ``unsqueeze`` + ``expand``),
* group r itself,
* the *reduction* of group r+1 (quantifiers: exists = ``max`` and forall = ``min`` over the last
  object axis, after masking out tuples that repeat an object, ``stack`` + ``view`` so the channel
  count doubles),

then, for r >= 2, the concatenation of all r! axis permutations, then a per-group MLP (here, as in
every shipped NLM checkpoint, a single ``Linear(C_in, attributes)`` + ``Sigmoid``). With
``residual`` the layer input is concatenated in front of the output.

The op sequence (arange comparisons for masks, float masks, max/min reductions, permute + cat,
view + linear + sigmoid) follows the original inference path so that the profile has the same mix.
"""
from __future__ import annotations

import itertools
import math
from typing import Optional, Sequence

import torch
from torch import nn

__all__ = ["expand_axis", "exclude_self_mask", "blend", "meshgrid", "meshgrid_exclude_self", "Expander",
           "Reducer", "Permutation", "InputTransform", "LogicInference", "LogitsInference", "LogicLayer",
           "LogicMachine"]


# ---------------------------------------------------------------------------------------------
# tensor helpers


def expand_axis(x: torch.Tensor, axis: int, size: int) -> torch.Tensor:
    """Inserts a new axis at ``axis`` and broadcasts it to ``size`` (a view, no copy)."""
    y = x.unsqueeze(axis)
    shape = list(y.shape)
    shape[axis] = size
    return y.expand(*shape)


def exclude_self_mask(x: torch.Tensor, count: int, first_axis: int) -> torch.Tensor:
    """Float mask shaped like ``x``: 1 where the ``count`` object axes from ``first_axis`` on hold
    pairwise distinct indices, 0 where some object repeats.

    Built from ``arange`` comparisons as the original does, and expanded + converted to float, so
    the mask is materialised at the full size of ``x``.
    """
    if first_axis < 0:
        first_axis += x.dim()
    n = x.size(first_axis)
    idx = torch.arange(n, dtype=torch.long, device=x.device)
    grids = []
    for k in range(count):  # grids[k][i_0, ..., i_{count-1}] = i_k
        g = idx
        for other in range(count):
            if other != k:
                g = g.unsqueeze(other)
        grids.append(g.expand(*([n] * count)))
    keep = grids[0] == grids[0]
    for a in range(count):
        for b in range(count):
            if a != b:
                keep *= grids[a] != grids[b]
    for _ in range(first_axis):
        keep.unsqueeze_(0)
    for _ in range(x.dim() - first_axis - count):
        keep.unsqueeze_(-1)
    return keep.expand(x.shape).float()


def blend(x: torch.Tensor, mask: torch.Tensor, fill: float) -> torch.Tensor:
    """``x`` where ``mask`` is 1, ``fill`` where it is 0 (arithmetic form, as in the original)."""
    return x * mask + fill * (1 - mask)


def meshgrid(x: torch.Tensor, axis: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs every index of ``axis`` with every other: returns (x_i, x_j) broadcast to [.., n, n, ..]."""
    if axis < 0:
        axis += x.dim()
    n = x.size(axis)
    return expand_axis(x, axis + 1, n), expand_axis(x, axis, n)


def meshgrid_exclude_self(x: torch.Tensor, axis: int = 1) -> torch.Tensor:
    """Drops the diagonal of the object axes ``axis`` and ``axis + 1``: [.., n, n, ..] -> [.., n, n-1, ..]."""
    if axis < 0:
        axis += x.dim()
    n = x.size(axis)
    assert x.size(axis + 1) == n, "meshgrid_exclude_self needs two equal object axes"
    idx = torch.arange(n, dtype=torch.long, device=x.device)
    off_diagonal = idx.unsqueeze(1).expand(n, n) != idx.unsqueeze(0).expand(n, n)
    for _ in range(axis):
        off_diagonal.unsqueeze_(0)
    for _ in range(x.dim() - axis - 2):
        off_diagonal.unsqueeze_(-1)
    shape = tuple(x.shape[:axis]) + (n, n - 1) + tuple(x.shape[axis + 2:])
    return x.masked_select(off_diagonal).view(shape)


# ---------------------------------------------------------------------------------------------
# dimension modules


class Expander(nn.Module):
    """Group r-1 -> group r: adds a free object variable by broadcasting (no copy)."""

    def __init__(self, arity: int):
        super().__init__()
        self.arity = arity  # arity of the input group

    def forward(self, x: torch.Tensor, n: Optional[int] = None) -> torch.Tensor:
        if n is None:
            assert self.arity > 0, "expanding a nullary group needs the object count"
            n = x.size(self.arity)
        return expand_axis(x, self.arity + 1, n)

    @staticmethod
    def out_channels(channels: int) -> int:
        return channels


class Reducer(nn.Module):
    """Group r -> group r-1: exists (max) and forall (min) over the last object axis.

    With ``exclude_self`` tuples that repeat an object are neutralised first: filled with 0 for
    exists and with 1 for forall, so they never decide a quantifier.
    """

    def __init__(self, arity: int, exclude_self: bool = True):
        super().__init__()
        self.arity = arity  # arity of the input group
        self.exclude_self = exclude_self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(x.shape)
        for_exists, for_forall = x, x
        if self.exclude_self:
            mask = exclude_self_mask(x, self.arity, -1 - self.arity)
            for_exists = blend(x, mask, 0.0)
            for_forall = blend(x, mask, 1.0)
        exists = torch.max(for_exists, dim=-2)[0]
        forall = torch.min(for_forall, dim=-2)[0]
        return torch.stack((exists, forall), dim=-1).view(shape[:-2] + (2 * shape[-1],))

    @staticmethod
    def out_channels(channels: int) -> int:
        return 2 * channels


class Permutation(nn.Module):
    """For arity r >= 2: all r! orders of the object axes, concatenated along the channels."""

    def __init__(self, arity: int):
        super().__init__()
        self.arity = arity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.arity < 2:
            return x
        rank = x.dim()
        first = rank - 1 - self.arity
        lead = tuple(range(first))
        views = [x.permute(lead + order + (rank - 1,))
                 for order in itertools.permutations(range(first, rank - 1))]
        return torch.cat(views, dim=-1)

    def out_channels(self, channels: int) -> int:
        return channels * math.factorial(self.arity) if self.arity >= 2 else channels


class InputTransform(nn.Module):
    """Unary [B, n, C] -> binary [B, n, n, C']: 'cmp' (x<y, x==y, x>y; C' = 3C) or 'concat' (C' = 2C)."""

    def __init__(self, method: str, exclude_self: bool = True):
        super().__init__()
        if method not in ("cmp", "concat", "diff"):
            raise ValueError(f"unknown input transform {method!r}")
        self.method = method
        self.exclude_self = exclude_self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.dim() == 3, "InputTransform takes [B, n, C]"
        xi, xj = meshgrid(x, axis=1)
        if self.method == "cmp":
            out = torch.cat([xi < xj, xi == xj, xi > xj], dim=3)
        elif self.method == "concat":
            out = torch.cat((xi, xj), dim=3)
        else:
            out = xi - xj
        if self.exclude_self:
            out = meshgrid_exclude_self(out, axis=1)
        return out.float()

    def out_channels(self, channels: int) -> int:
        return {"cmp": 3, "concat": 2, "diff": 1}[self.method] * channels


class _PerPredicateMLP(nn.Module):
    """An MLP shared across every object tuple: flattens to [tuples, C], applies it, restores the shape.

    The original's ``logic_hidden_dim = []`` makes the MLP a single Linear layer; ``hidden`` widths
    add ReLU hidden layers for experiments.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden: Sequence[int] = (), sigmoid: bool = False):
        super().__init__()
        widths = [in_channels, *hidden, out_channels]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-2], widths[1:-1]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(widths[-2], widths[-1]))
        self.mlp = nn.Sequential(*layers)
        self.activation = nn.Sigmoid() if sigmoid else None
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = tuple(x.shape[:-1])
        flat = x.view(-1, x.size(-1))
        flat = flat.view(flat.size(0), -1)  # the original MLP flattens its input once more
        y = self.mlp(flat)
        if self.activation is not None:
            y = self.activation(y)
        return y.view(*lead, -1)


class LogicInference(_PerPredicateMLP):
    """Per-group logic rule: MLP + Sigmoid (predicates stay in [0, 1])."""

    def __init__(self, in_channels: int, out_channels: int, hidden: Sequence[int] = ()):
        super().__init__(in_channels, out_channels, hidden, sigmoid=True)


class LogitsInference(_PerPredicateMLP):
    """Readout head: MLP without activation (policy logits)."""

    def __init__(self, in_channels: int, out_channels: int, hidden: Sequence[int] = ()):
        super().__init__(in_channels, out_channels, hidden, sigmoid=False)


# ---------------------------------------------------------------------------------------------
# layers


class LogicLayer(nn.Module):
    """One deduction step over groups 0..breadth (see the module docstring).

    A group whose input width is 0 is absent (``None``); a group that receives nothing from its
    neighbours produces nothing. ``mlp_in`` records each group's MLP input width.
    """

    def __init__(self, breadth: int, in_dims: Sequence[int], attributes: int, hidden: Sequence[int] = (),
                 exclude_self: bool = True, residual: bool = True):
        super().__init__()
        assert breadth >= 1 and len(in_dims) == breadth + 1
        self.breadth = breadth
        self.residual = residual
        self.in_dims = list(in_dims)
        self.expanders = nn.ModuleList()
        self.reducers = nn.ModuleList()
        self.perms = nn.ModuleList()
        self.rules = nn.ModuleList()
        self.mlp_in: list[int] = []
        self.out_dims: list[int] = []
        for r in range(breadth + 1):
            width = self.in_dims[r]
            self.expanders.append(Expander(r - 1) if r > 0 else nn.Identity())
            if r > 0:
                width += Expander.out_channels(self.in_dims[r - 1])
            self.reducers.append(Reducer(r + 1, exclude_self) if r < breadth else nn.Identity())
            if r < breadth:
                width += Reducer.out_channels(self.in_dims[r + 1])
            perm = Permutation(r)
            self.perms.append(perm)
            if width == 0:
                self.rules.append(nn.Identity())
                self.mlp_in.append(0)
                out = 0
            else:
                width = perm.out_channels(width)
                self.rules.append(LogicInference(width, attributes, hidden))
                self.mlp_in.append(width)
                out = attributes
            self.out_dims.append(out + (self.in_dims[r] if residual else 0))

    def forward(self, groups: Sequence[Optional[torch.Tensor]]) -> list[Optional[torch.Tensor]]:
        assert len(groups) == self.breadth + 1
        outputs: list[Optional[torch.Tensor]] = []
        for r in range(self.breadth + 1):
            parts = []
            if r > 0 and self.in_dims[r - 1] > 0:
                n = groups[1].size(1) if r == 1 else None
                parts.append(self.expanders[r](groups[r - 1], n))
            if self.in_dims[r] > 0:
                parts.append(groups[r])
            if r < self.breadth and self.in_dims[r + 1] > 0:
                parts.append(self.reducers[r](groups[r + 1]))
            out = None
            if parts:
                f = self.perms[r](torch.cat(parts, dim=-1))
                out = self.rules[r](f)
            if self.residual and self.in_dims[r] > 0:
                out = torch.cat([groups[r], out], dim=-1)
            outputs.append(out)
        return outputs


class LogicMachine(nn.Module):
    """A stack of ``depth`` LogicLayers; the output widths of one are the input widths of the next."""

    def __init__(self, depth: int, breadth: int, in_dims: Sequence[int], attributes: int = 8,
                 hidden: Sequence[int] = (), exclude_self: bool = True, residual: bool = True):
        super().__init__()
        self.depth, self.breadth = depth, breadth
        self.layers = nn.ModuleList()
        dims = list(in_dims)
        for _ in range(depth):
            layer = LogicLayer(breadth, dims, attributes, hidden, exclude_self, residual)
            self.layers.append(layer)
            dims = list(layer.out_dims)
        self.in_dims = list(in_dims)
        self.out_dims = dims

    def forward(self, groups: Sequence[Optional[torch.Tensor]]) -> list[Optional[torch.Tensor]]:
        f = list(groups)
        for layer in self.layers:
            f = layer(f)
        return f

    def mlp_input_widths(self) -> list[list[int]]:
        """Per layer, per group: the width of the MLP input (0 where the group is absent)."""
        return [list(layer.mlp_in) for layer in self.layers]
