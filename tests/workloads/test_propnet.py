"""The original MLP PropNet: relation graphs, shapes per setting, sparse vs dense products, loops."""
from __future__ import annotations

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from nscharacterize.workloads.propnet import PROPNET
from nscharacterize.workloads.propnet.model import PropNet
from nscharacterize.workloads.propnet.scenarios import (SCENARIOS, cradle_relations, fully_connected_relations,
                                                        make_episode, n_relations, rope_relations,
                                                        rollout_full)

TINY = {"nf_relation": 12, "nf_particle": 10, "nf_effect": 8}


def test_relation_graphs_have_the_original_sizes():
    Rr, Rs, Ra = cradle_relations(5, 1)
    assert Rr.shape == Rs.shape == (10, 18) and Ra.shape == (18, 1)
    assert Rr.layout == torch.strided and Rr.sum() == 18        # made dense, one receiver per relation
    Rr, Rs, Ra = rope_relations(15, 3)
    assert Rr.shape == (17, 309) and Rr.layout == torch.strided
    assert torch.equal(Ra.sum(0), torch.tensor([30.0 + 225.0, 28.0, 26.0]))   # type counts
    Rr, Rs, Ra = fully_connected_relations(7, 1)
    assert Rr.layout == torch.sparse_coo and Rr.shape == (7, 49) and Ra.shape == (49, 1)
    assert n_relations(SCENARIOS["cradle"]) == 18 and n_relations(SCENARIOS["rope"]) == 309


@pytest.mark.parametrize("name", ["cradle", "rope"])
def test_full_mode_shapes(name):
    sc = SCENARIOS[name]
    torch.manual_seed(0)
    model = PropNet(sc.mode, sc.attr_dim, sc.state_dim, sc.action_dim, sc.relation_dim, sc.position_dim).eval()
    assert model.model.relation_encoder.model[0].out_features == 150
    assert model.model.particle_encoder.model[0].out_features == 100
    Rr, Rs, Ra = cradle_relations(5, 1) if name == "cradle" else rope_relations(15, 3)
    n = Rr.shape[0]
    attr, state = torch.randn(1, n, sc.attr_dim), torch.randn(1, n, sc.state_dim)
    action = torch.randn(1, n, sc.action_dim) if sc.action_dim else None
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        pred = model(attr, state, Rr[None], Rs[None], Ra[None], 3, action=action)
    assert pred.shape == (1, n, 2)
    names = {e.key for e in prof.key_averages()}
    assert "aten::bmm" in names and not any("sparse" in k for k in names)   # dense relation products


def test_box_partial_mode_shapes_and_sparse_products():
    sc = SCENARIOS["box"]
    torch.manual_seed(0)
    model = PropNet(sc.mode, sc.attr_dim, sc.state_dim, sc.action_dim, sc.relation_dim, sc.position_dim,
                    history_window=5).eval()
    Rr, Rs, Ra = fully_connected_relations(12, 1)
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        enc = model.encode(torch.randn(1, 12, 6), Rr, Rs, Ra[None], 2)
        dec = model.decode(enc, Rr, Rs, Ra[None], 1)
        lat = model.rollout(torch.randn(1, 1, 500), torch.randn(1, 1, 10))
    assert enc.shape == (1, 12, 100) and dec.shape == (1, 12, 6) and lat.shape == (1, 1, 100)
    assert model.to_latent(enc).shape == (1, 1, 100)
    assert "aten::_sparse_addmm" in {e.key for e in prof.key_averages()}


@pytest.mark.parametrize("name, steps", [("cradle", 20), ("rope", 15)])
def test_full_rollout_runs_one_batch1_step_per_time_step(name, steps):
    w = PROPNET.build({"scenario": name, "steps": steps, **TINY}, seed=0)
    assert [c.name for c in w.components] == ["rollout"]
    ep = w.make_samples(1)[0]
    before = {k: v.copy() for k, v in ep.items()}
    out = w.run(ep)
    sc = SCENARIOS[name]
    n = sc.n_particle * 2 if name == "cradle" else sc.n_particle + 2
    assert out["states_pred"].shape == (steps - 1, n, 4)
    assert all((before[k] == ep[k]).all() for k in ep)        # the sample is not mutated
    model = PropNet(sc.mode, sc.attr_dim, sc.state_dim, sc.action_dim, sc.relation_dim, sc.position_dim,
                    **TINY).eval()
    rel = cradle_relations(5, 1) if name == "cradle" else rope_relations(15, 3)
    rollout_full(model, sc, ep, rel, pstep=3)
    assert model.model.calls == steps - 1


def test_box_workload_components_and_visibility():
    w = PROPNET.build({"scenario": "Box", "steps": 14, **TINY}, seed=0)
    assert [c.name for c in w.components] == ["encode", "decode", "latent_rollout"]
    ep = w.make_samples(1)[0]
    assert ep["states"].shape == (14, 20, 6) and ep["actions"].shape == (14, 1, 2)
    x = ep
    for c in w.components:
        x = c.fn(x)
    assert x["states_pred"].shape == (13, 20, 6) and x["loss"] == x["loss"]
    enc = w.components[0].fn(ep)
    sizes = [s.shape[1] for s in enc["states"]]
    assert sizes == [int(v.sum()) for v in ep["vis"][:13]]    # only visible boxes enter the graph
    assert enc["rels"][0][0].layout == torch.sparse_coo


def test_episodes_are_deterministic():
    a = make_episode(SCENARIOS["rope"], 10, 0, 1)
    b = make_episode(SCENARIOS["rope"], 10, 0, 1)
    assert all((a[k] == b[k]).all() for k in a)
