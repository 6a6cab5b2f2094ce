"""The IEP module network: schedules follow Suarez & Zhu's call bounds on programs of known shape,
every schedule respects its inputs, and the three execution modes give the same answers."""
from __future__ import annotations

import pytest
import torch

from nscharacterize.workloads.nmn import NMN, NMNParams, build_nmn, make_batch
from nscharacterize.workloads.nmn import programs as prog
from nscharacterize.workloads.nmn.model import CALL_RANGE


def node(function, inputs=(), value=None):
    return {"function": function, "inputs": list(inputs), "value_inputs": [value] if value else []}


def chain(length: int) -> list[dict]:
    """scene -> (length - 2) filters -> count: s = d = length."""
    colors = ["red", "blue", "green", "gray", "brown", "cyan", "purple", "yellow"]
    nodes = [node("scene")]
    for k in range(length - 2):
        nodes.append(node("filter_color", [k], colors[k % len(colors)]))
    nodes.append(node("count", [len(nodes) - 1]))
    return nodes


def balanced(depth: int) -> list[dict]:
    """A complete binary tree of intersects over scene leaves, under a count: d = depth + 2."""
    nodes: list[dict] = []

    def build(level: int) -> int:
        if level == 0:
            nodes.append(node("scene"))
        else:
            a, b = build(level - 1), build(level - 1)
            nodes.append(node("intersect", [a, b]))
        return len(nodes) - 1

    nodes.append(node("count", [build(depth)]))
    return nodes


# Two programs with the same tree but different topological orders: heights align, positions do not.
LEFT_FIRST = [node("scene"), node("filter_color", [0], "red"), node("scene"), node("filter_color", [2], "blue"),
              node("union", [1, 3]), node("count", [4])]
LEAVES_FIRST = [node("scene"), node("scene"), node("filter_color", [0], "red"), node("filter_color", [1], "blue"),
                node("union", [2, 3]), node("count", [4])]


def test_shapes_of_known_programs():
    assert prog.depth(chain(7)) == 7 and len(chain(7)) == 7
    assert prog.depth(balanced(3)) == 5 and len(balanced(3)) == 2 ** 4
    assert prog.heights(LEFT_FIRST) == [0, 1, 0, 1, 2, 3]
    assert prog.heights(LEAVES_FIRST) == [0, 0, 1, 1, 2, 3]


@pytest.mark.parametrize("b", [1, 4, 16])
def test_identical_chains_cost_b_times_s_per_example_and_s_batched(b):
    programs = [chain(7)] * b
    counts = prog.call_counts(programs)
    assert counts["calls"] == {"per_example": 7 * b, "batched": 7, "batched_depth": 7}
    assert (counts["s"], counts["d"], counts["p"]) == (7, 7, 7)


def test_trees_cost_depth_not_length_with_the_depth_schedule():
    b = 8
    counts = prog.call_counts([balanced(3)] * b)           # s = 16 nodes, d = 5 levels, p = 3 types
    assert counts["calls"]["per_example"] == 16 * b == counts["bound_bs"]
    assert counts["calls"]["batched"] == 16                 # every position is one call (same program)
    assert counts["calls"]["batched_depth"] == 5            # one call per level: scene, 3 x intersect, count
    assert counts["calls"]["batched_depth"] <= counts["p"] * counts["d"]


def test_depth_schedule_aligns_programs_whose_positions_differ():
    counts = prog.call_counts([LEFT_FIRST, LEAVES_FIRST])
    assert counts["calls"] == {"per_example": 12, "batched": 8, "batched_depth": 5}


def test_generated_batches_follow_the_bounds_and_respect_inputs():
    p = NMNParams(batch_size=16, features="synthetic", feature_dim=4, feature_size=2)
    for index in range(3):
        programs = make_batch(0, index, p)["programs"]
        c = prog.call_counts(programs)
        assert c["calls"]["per_example"] == c["nodes"] <= c["bound_bs"]
        assert c["calls"]["batched"] <= min(c["p"], c["b"]) * c["s"] <= c["bound_ps"]
        assert c["calls"]["batched_depth"] <= c["bound_pd"]
        assert c["calls"]["batched_depth"] <= c["calls"]["batched"] < c["calls"]["per_example"]
        for mode in prog.MODES:
            done: set = set()
            calls = prog.schedule(programs, mode)
            for call in calls:
                for q, j in call.nodes:
                    assert prog.token(programs[q][j]) == call.token
                    assert all((q, i) in done for i in programs[q][j]["inputs"]), (mode, call)
                done.update(call.nodes)
            assert len(done) == c["nodes"] == sum(len(call.nodes) for call in calls)


def test_bad_programs_are_refused():
    with pytest.raises(ValueError, match="topologically"):
        prog.check([node("scene"), node("count", [2]), node("scene")])
    with pytest.raises(ValueError, match="takes 2"):
        prog.check([node("scene"), node("union", [0])])
    with pytest.raises(ValueError, match="unknown execution mode"):
        prog.schedule([chain(3)], "sideways")


def test_all_modes_give_the_same_answers():
    params = {**NMN.smoke, "batch_size": 8}
    sample = build_nmn(NMNParams(**params), seed=0).make_samples(1)[0]
    net = build_nmn(NMNParams(**params), seed=0).net
    feats = torch.from_numpy(sample["features"])
    with torch.no_grad():
        logits = {m: net.execute(feats, sample["programs"], m) for m in prog.MODES}
    ref = logits["per_example"]
    assert ref.shape == (8, len(net.classifier[-1].weight))
    assert not torch.allclose(ref[0], ref[1:], atol=1e-4)   # questions differ: the comparison can fail
    for mode in ("batched", "batched_depth"):
        torch.testing.assert_close(logits[mode], ref, rtol=1e-5, atol=1e-5)
        assert torch.equal(logits[mode].argmax(-1), ref.argmax(-1))
    # and the workload's answers (strings) agree across modes
    answers = {m: build_nmn(NMNParams(**{**params, "mode": m}), seed=0).run(sample) for m in prog.MODES}
    assert answers["per_example"] == answers["batched"] == answers["batched_depth"]


def test_profiled_module_calls_match_the_schedule():
    from nscharacterize.profiler.session import SessionSettings, profile_workload

    for mode in prog.MODES:
        w = build_nmn(NMNParams(**{**NMN.smoke, "mode": mode}), seed=0)
        prof = profile_workload(w, "nmn", SessionSettings(samples=1, warmup=0, repeats=1))
        ranges = prof.events[prof.events["name"] == CALL_RANGE]
        assert int(ranges["calls"].sum()) == w.info["batches"][0]["calls"][mode]


def test_resnet101_features_are_conv4_sized():
    w = build_nmn(NMNParams(batch_size=1, mode="per_example", module_dim=8, classifier_proj_dim=8,
                            classifier_fc=8), seed=0)
    assert [c.name for c in w.components] == ["feature_extractor", "execution_engine"]
    sample = w.make_samples(1)[0]
    assert sample["images"].shape == (1, 224, 224, 3)
    out = w.components[0].fn(sample)
    assert tuple(out["features"].shape) == (1, 1024, 14, 14)
    assert len(w.components[1].fn(out)) == 1
    with pytest.raises(Exception, match="feature_dim: 1024"):
        build_nmn(NMNParams(feature_dim=512), seed=0)
