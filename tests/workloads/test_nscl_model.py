"""NSCL scene-graph extractor, concept embeddings and quasi-symbolic executor: shapes and semantics."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nscharacterize.workloads.clevr_common.attributes import ATTRIBUTES, CONCEPT_ATTRIBUTE
from nscharacterize.workloads.clevr_common.questions import make_questions
from nscharacterize.workloads.clevr_common.scene_image import render
from nscharacterize.workloads.clevr_common.scenes import make_scene
from nscharacterize.workloads.nscl.programs import to_nscl
from nscharacterize.workloads.nscl import model as m


@pytest.fixture(scope="module")
def extractor():
    torch.manual_seed(0)
    return m.FeatureExtractor(image_size=128).eval()


def test_resnet34_stops_at_layer3(extractor):
    with torch.no_grad():
        out = extractor.resnet(torch.randn(1, 3, 128, 192))
    assert out.shape == (1, 256, 8, 12)                         # [B, 256, H/16, W/16]
    n_blocks = [len(getattr(extractor.resnet, str(i))) for i in (4, 5, 6)]
    assert n_blocks == [3, 4, 6]                                # ResNet-34 layer1..3
    assert isinstance(extractor.resnet[7], torch.nn.Identity)   # layer4 removed


def test_scene_graph_layers():
    sg = m.SceneGraph()
    assert (sg.context_feature_extract.in_channels, sg.context_feature_extract.out_channels) == (256, 256)
    assert sg.relation_feature_extract.out_channels == 384
    assert sg.object_feature_fuse.in_channels == 512 and sg.relation_feature_fuse.in_channels == 896
    assert sg.object_feature_fc[1].in_features == 12544 and sg.object_feature_fc[1].out_features == 256
    assert sg.relation_feature_fc[1].in_features == 12544


def test_features_shapes_and_norm(extractor):
    image = torch.from_numpy(render(make_scene(0, 0)))
    x, scale = extractor.preprocess(image)
    assert x.shape == (1, 3, 128, 192) and scale == pytest.approx(0.4)
    boxes = torch.tensor([[10.0, 20.0, 100.0, 120.0], [200.0, 50.0, 300.0, 200.0], [400.0, 100.0, 470.0, 310.0]])
    with torch.no_grad():
        obj, rel = extractor(image, boxes)
    assert obj.shape == (3, 256) and rel.shape == (3, 3, 256)
    assert torch.allclose(obj.norm(dim=-1), torch.ones(3), atol=1e-4)
    assert torch.allclose(rel.norm(dim=-1), torch.ones(3, 3), atol=1e-4)


def test_box_bookkeeping():
    box = torch.tensor([[0.0, 0.0, 7.0, 7.0]])
    region = torch.tensor([[0.0, 0.0, 14.0, 14.0]])
    imap = m._intersection_map(box, region, 7)
    assert imap.shape == (1, 1, 7, 7)
    assert torch.allclose(imap[0, 0, :3, :3], torch.ones(3, 3)) and imap[0, 0, 6, 6] == 0
    assert imap[0, 0, 3, 3] == pytest.approx(0.25)              # the bin straddling the corner
    a, b = torch.tensor([[0.0, 5.0, 10.0, 8.0]]), torch.tensor([[3.0, 1.0, 4.0, 20.0]])
    assert m._union_box(a, b).tolist() == [[0.0, 1.0, 10.0, 20.0]]


def test_concept_embeddings():
    ex = m.Executor()
    attr, rel = ex.attribute, ex.relation
    assert attr.attributes == ["color", "material", "others", "shape", "size"]
    assert len(attr.concepts) == 15 and len(rel.concepts) == 4
    assert all(op.in_features == 256 and op.out_features == 64 for op in attr.operators.values())
    assert attr.embedding["red"].shape == (5, 64) and attr.belong["red"].shape == (5,)
    f = torch.nn.functional.normalize(torch.randn(6, 256), dim=-1)
    r = torch.nn.functional.normalize(torch.randn(6, 6, 256), dim=-1)
    assert attr.similarity(f, "cube").shape == (6,)
    assert rel.similarity(r, "left").shape == (6, 6)
    assert attr.cross_similarity(f, "color").shape == (6, 6)
    q = attr.query_attribute(f, "shape")
    assert q.shape == (6, 15)
    # known belong: a shape query can only answer with a shape concept
    assert all(attr.concepts[i] in ATTRIBUTES["shape"] for i in q.argmax(-1).tolist())


def _oracle_executor(scene):
    """An executor whose concept tests return +-10 from the scene annotations, as a trained model would."""
    objs, rels = scene["objects"], scene["relationships"]
    n = len(objs)
    ex = m.Executor()

    def sign(b):
        return 10.0 if b else -10.0

    ex.attribute.similarity = lambda f, c: torch.tensor([sign(o[CONCEPT_ATTRIBUTE[c]] == c) for o in objs])
    ex.attribute.cross_similarity = lambda f, a: torch.tensor(
        [[sign(objs[i][a] == objs[j][a]) for j in range(n)] for i in range(n)])
    ex.attribute.query_attribute = lambda f, a: torch.tensor(
        [[sign(o[a] == c) if CONCEPT_ATTRIBUTE[c] == a else -200.0 for c in ex.attribute.concepts] for o in objs])
    ex.relation.similarity = lambda f, c: torch.tensor(
        [[sign(j in rels[c][i]) for j in range(n)] for i in range(n)])
    return ex, torch.zeros(n, 256), torch.zeros(n, n, 256)


def test_executor_semantics_match_ground_truth():
    """With perfect concept scores the tensor executor must answer every generated question correctly."""
    checked = 0
    for i in range(12):
        scene = make_scene(3, i)
        ex, obj_f, rel_f = _oracle_executor(scene)
        questions = make_questions(scene, 3, 8)
        programs = [to_nscl(q["program"]) for q in questions]
        with torch.no_grad():
            answers = ex(obj_f, rel_f, programs)
        assert answers == [q["answer"] for q in questions]
        checked += len(answers)
    assert checked == 96


def test_executor_answers_every_question_with_random_features():
    torch.manual_seed(0)
    ex = m.Executor().eval()
    scene = make_scene(0, 4)
    questions = make_questions(scene, 0, 10)
    n = len(scene["objects"])
    obj = torch.nn.functional.normalize(torch.randn(n, 256), dim=-1)
    rel = torch.nn.functional.normalize(torch.randn(n, n, 256), dim=-1)
    with torch.no_grad():
        answers = ex(obj, rel, [to_nscl(q["program"]) for q in questions])
    assert len(answers) == 10
    for q, a in zip(questions, answers):
        last = to_nscl(q["program"])[-1]
        if last["op"] == "query":
            assert a in ATTRIBUTES[last["attribute"]]
        elif last["op"] == "count":
            assert 0 <= int(a) <= n
        else:
            assert a in ("yes", "no")


def test_unique_is_one_hot_argmax():
    out = m._unique(torch.tensor([-3.0, 7.0, 2.0]))
    assert out.tolist() == [0.0, 1.0, 0.0]
    assert np.allclose(m._self_mask(torch.ones(2, 2)).numpy(), [[-10.0, 1.0], [1.0, -10.0]])
