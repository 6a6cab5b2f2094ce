"""NLM layer stack: group widths against the original models, quantifier semantics, shapes."""
from __future__ import annotations

import itertools

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from nscharacterize.workloads.nlm.layers import (InputTransform, LogicMachine, Permutation, Reducer,
                                                 exclude_self_mask, meshgrid_exclude_self)
from nscharacterize.workloads.nlm.models import BlocksWorldPolicy, PathPolicy, SortPolicy


def test_path_group_widths_match_research():
    widths = PathPolicy().nlm.mlp_input_widths()
    assert len(widths) == 5
    assert widths[4] == [100, 134, 264, 396]  # nullary / unary / binary / ternary MLP inputs, layer 4
    assert PathPolicy().readout_dim == 42


def test_blocksworld_group_widths_match_research():
    model = BlocksWorldPolicy()
    widths = model.nlm.mlp_input_widths()
    assert len(widths) == 7
    assert widths[6] == [136, 208, 216]
    assert model.unary_dim == 56
    assert model.readout_dim == 248  # concat(2 x 56) = 224, plus cmp of the paired 8-wide states = 24
    assert model.state_dim == 12


def test_sort_widths_and_every_rule_is_one_linear():
    model = SortPolicy()
    assert len(model.nlm.layers) == 3
    assert model.readout_dim == 30
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert all(lin.out_features == 8 for lin in linears[:-1])
    assert linears[-1].in_features == 30 and linears[-1].out_features == 1
    # logic_hidden_dim = []: each group's rule is exactly Linear + Sigmoid
    for layer in model.nlm.layers:
        for rule, width in zip(layer.rules, layer.mlp_in):
            if width:
                assert len(rule.mlp) == 1 and rule.activation is not None


@pytest.mark.parametrize("n", [3, 5])
def test_policy_output_shapes(n):
    torch.manual_seed(0)
    with torch.no_grad():
        p, logits = SortPolicy().eval()(torch.rand(1, n, n, 6, dtype=torch.float64))
        assert p.shape == logits.shape == (1, n * (n - 1))
        p, _ = PathPolicy().eval()(torch.rand(1, n, 2, dtype=torch.float64), torch.ones(1, n, n, 2, dtype=torch.int32))
        assert p.shape == (1, n)
        p, _ = BlocksWorldPolicy().eval()(torch.rand(1, 2 * (n + 1), 4, dtype=torch.float64))
        assert p.shape == (1, (n + 1) * n)
    assert torch.allclose(p.sum(-1), torch.ones(1))


def test_reducer_excludes_self_on_hand_made_binary():
    # channel 0: the diagonal holds the largest value; channel 1: the diagonal holds the smallest.
    off = torch.tensor([[0.0, 0.2, 0.3], [0.4, 0.0, 0.6], [0.7, 0.8, 0.0]])
    x = torch.stack([off + torch.eye(3) * 0.9, off + torch.eye(3) * 0.5], dim=-1)  # [3, 3, 2]
    x[..., 1] = torch.where(torch.eye(3, dtype=torch.bool), torch.zeros(3, 3), off + 0.1)
    out = Reducer(2, exclude_self=True)(x.unsqueeze(0))[0]  # [3, 4]
    for i in range(3):
        others = [j for j in range(3) if j != i]
        for c in range(2):
            vals = [float(x[i, j, c]) for j in others]
            assert out[i, 2 * c] == pytest.approx(max(vals))      # exists, channel c
            assert out[i, 2 * c + 1] == pytest.approx(min(vals))  # forall, channel c
    # without exclusion the diagonal decides both quantifiers
    raw = Reducer(2, exclude_self=False)(x.unsqueeze(0))[0]
    assert raw[0, 0] == pytest.approx(0.9) and raw[0, 3] == pytest.approx(0.0)


def test_reducer_ternary_matches_brute_force():
    torch.manual_seed(1)
    n = 4
    x = torch.rand(1, n, n, n, 3)
    out = Reducer(3)(x)[0]  # [n, n, 6]
    for i, j in itertools.product(range(n), repeat=2):
        ks = [k for k in range(n) if len({i, j, k}) == 3]
        for c in range(3):
            vals = [float(x[0, i, j, k, c]) for k in ks]
            exists = max(vals) if (i != j) else 0.0  # every tuple repeats an object: filled 0 / 1
            forall = min(vals) if (i != j) else 1.0
            assert out[i, j, 2 * c] == pytest.approx(exists)
            assert out[i, j, 2 * c + 1] == pytest.approx(forall)


def test_exclude_self_mask_counts():
    x = torch.zeros(2, 5, 5, 5, 3)
    m = exclude_self_mask(x, 3, 1)
    assert m.shape == x.shape and m.dtype == torch.float32
    assert m.sum() == 2 * 5 * 4 * 3 * 3
    assert exclude_self_mask(torch.zeros(1, 4, 2), 1, 1).sum() == 8  # one axis: nothing to exclude


def test_permutation_binary_and_ternary():
    x = torch.rand(1, 3, 3, 2)
    y = Permutation(2)(x)
    assert y.shape == (1, 3, 3, 4)
    assert torch.equal(y[..., 2:], x.permute(0, 2, 1, 3))
    z = Permutation(3)(torch.rand(1, 3, 3, 3, 2))
    assert z.shape == (1, 3, 3, 3, 12)
    assert Permutation(1)(x) is x


def test_meshgrid_exclude_self_drops_diagonal():
    n = 4
    x = (10 * torch.arange(n).view(n, 1) + torch.arange(n).view(1, n)).float().view(1, n, n, 1)
    y = meshgrid_exclude_self(x)
    assert y.shape == (1, n, n - 1, 1)
    for i in range(n):
        assert y[0, i, :, 0].tolist() == [10 * i + j for j in range(n) if j != i]


def test_input_transform_cmp_and_concat():
    s = torch.tensor([[[1.0], [2.0], [2.0]]])  # [1, 3, 1]
    c = InputTransform("cmp", exclude_self=False)(s)
    assert c.shape == (1, 3, 3, 3)
    # at [i, j]: (s_i < s_j, s_i == s_j, s_i > s_j)
    assert c[0, 0, 1].tolist() == [1.0, 0.0, 0.0]
    assert c[0, 1, 2].tolist() == [0.0, 1.0, 0.0]
    assert c[0, 2, 0].tolist() == [0.0, 0.0, 1.0]
    k = InputTransform("concat", exclude_self=False)(s)
    assert k.shape == (1, 3, 3, 2) and k[0, 0, 1].tolist() == [1.0, 2.0]


def test_residual_concatenates_input_in_front():
    torch.manual_seed(0)
    machine = LogicMachine(1, 2, [0, 0, 6], attributes=8)
    x = torch.rand(1, 4, 4, 6)
    out = machine([None, None, x])
    assert out[0] is None and out[1].shape == (1, 4, 8) and out[2].shape == (1, 4, 4, 14)
    assert torch.equal(out[2][..., :6], x)


class _LargestStorage(TorchDispatchMode):
    """Records the largest float storage any op creates (views share storage, so they do not count)."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in (out if isinstance(out, (tuple, list)) else [out]):
            if isinstance(t, torch.Tensor) and t.dtype == torch.float32:
                self.largest = max(self.largest, t.untyped_storage().nbytes() // 4)
        return out


@pytest.mark.parametrize("policy,make_input,n", [
    (SortPolicy, lambda n: (torch.rand(1, n, n, 6, dtype=torch.float64),), 6),
    (PathPolicy, lambda n: (torch.rand(1, n, 2, dtype=torch.float64), torch.ones(1, n, n, 2, dtype=torch.int32)), 6),
    (BlocksWorldPolicy, lambda n: (torch.rand(1, 2 * (n + 1), 4, dtype=torch.float64),), 4),
])
def test_analytic_largest_tensor_matches_observed(policy, make_input, n):
    torch.manual_seed(0)
    model = policy().eval()
    inputs = make_input(n)
    with torch.no_grad(), _LargestStorage() as probe:
        model(*inputs)
    assert model.largest_tensor(n)[1] == probe.largest


def test_path_largest_tensor_at_paper_scale():
    name, floats = PathPolicy().largest_tensor(50)
    assert floats == 396 * 50 ** 3  # about 49.5 M floats
    assert "arity-3" in name
