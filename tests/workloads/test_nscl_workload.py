"""The NSCL workload end to end at smoke size: components, purity, detections and answers."""
from __future__ import annotations

import copy

import numpy as np
import pydantic
import pytest
import torch

from nscharacterize.workloads import registry
from nscharacterize.workloads.clevr_common.attributes import ATTRIBUTES, RELATIONS
from nscharacterize.workloads.base import WorkloadError
from nscharacterize.workloads.nscl import NSCL, NSCLParams


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    data = tmp_path_factory.mktemp("clevr")
    w = registry.get_spec("nscl").build({**NSCL.smoke, "data_dir": str(data)}, seed=0)
    w.to_device("cpu")
    return w, w.make_samples(2)


def test_registered_and_params_documented():
    assert registry.get_spec("nscl") is NSCL
    for name, field in NSCLParams.model_fields.items():
        assert field.description, name
    with pytest.raises(pydantic.ValidationError):
        NSCLParams(bogus=1)


def test_components(built):
    w, _ = built
    assert [(c.name, c.kind, c.profiler) for c in w.components] == [
        ("image_parser", "neural", "torch"), ("feature_extractor", "neural", "torch"),
        ("question_parser", "neural", "torch"), ("program_executor", "symbolic", "torch")]
    assert w.info["question_parser"]["backend"] in ("opennmt", "torch")


def test_pipeline_stages(built):
    w, samples = built
    s = samples[0]
    parsed = w.components[0].fn(s)
    assert parsed["boxes"].shape == (s["n_objects"], 4)          # one detection per scene object
    feats = w.components[1].fn(parsed)
    n = s["n_objects"]
    assert len(feats["features"]) == len(s["questions"])
    for objects, relations in feats["features"]:
        assert objects.shape == (n, 256) and relations.shape == (n, n, 256)
    decoded = w.components[2].fn(feats)
    assert [len(d) for d in decoded["decoded"]] == [len(q["program_tokens"]) for q in s["questions"]]
    answers = w.components[3].fn(decoded)
    assert len(answers) == len(s["questions"]) and all(isinstance(a, str) and a for a in answers)


def test_runs_are_pure_and_repeatable(built):
    w, samples = built
    before = copy.deepcopy(samples)
    first = [w.run(s) for s in samples]
    second = [w.run(s) for s in samples]
    assert first == second
    for a, b in zip(before, samples):
        assert np.array_equal(a["image"], b["image"]) and a["questions"] == b["questions"]


def _counting(monkeypatch, cls, method: str) -> list:
    calls: list = []
    real = getattr(cls, method)

    def wrapper(self, *args, **kwargs):
        calls.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, wrapper)
    return calls


@pytest.mark.parametrize("share", [False, True])
def test_feature_extractor_and_scene_loss_run_once_per_question_unless_shared(tmp_path, monkeypatch, share):
    from nscharacterize.workloads.nscl import model

    w = NSCL.build({**NSCL.smoke, "data_dir": str(tmp_path), "questions_per_image": 3,
                    "question_parser_backend": "torch", "share_image_features": share}, seed=0)
    (s,) = w.make_samples(1)
    assert len(s["questions"]) == 3
    features = _counting(monkeypatch, model.FeatureExtractor, "forward")        # ResNet-34 + scene graph
    graphs = _counting(monkeypatch, model.SceneGraph, "forward")
    losses = _counting(monkeypatch, model.SceneParsingLoss, "forward")
    assert len(w.run(s)) == 3
    runs = 1 if share else 3
    assert len(features) == len(graphs) == len(losses) == runs
    assert w.info["features_per"] == ("image" if share else "question")


def test_scene_parsing_loss_scores_every_concept_over_all_objects_and_pairs(monkeypatch):
    from nscharacterize.workloads.clevr_common.scenes import make_scene
    from nscharacterize.workloads.nscl import model
    from nscharacterize.workloads.nscl.samples import scene_labels

    scene = make_scene(0, 0)
    n = len(scene["objects"])
    labels = {k: ({a: torch.from_numpy(x) for a, x in v.items()} if isinstance(v, dict) else torch.from_numpy(v))
              for k, v in scene_labels(scene).items()}
    assert labels["relation"].shape == (n * n, 4) and labels["attribute_relation"]["color"].shape == (n * n,)
    seen = []
    real_sim, real_cross = model.ConceptTaxonomy.similarity, model.ConceptTaxonomy.cross_similarity
    monkeypatch.setattr(model.ConceptTaxonomy, "similarity",
                        lambda self, f, c: seen.append(("sim", c, f.shape[0])) or real_sim(self, f, c))
    monkeypatch.setattr(model.ConceptTaxonomy, "cross_similarity",
                        lambda self, f, a: seen.append(("cross", a, f.shape[0])) or real_cross(self, f, a))
    ex = model.Executor()
    obj_f, rel_f = torch.randn(n, 256), torch.randn(n, n, 256)
    with torch.no_grad():
        monitors = model.SceneParsingLoss()(ex.attribute, ex.relation, obj_f, rel_f, labels)
    concepts = [c for cs in ATTRIBUTES.values() for c in cs]
    assert sorted(c for kind, c, rows in seen if kind == "sim" and rows == n) == sorted(concepts)
    assert sorted(c for kind, c, rows in seen if kind == "sim" and rows == n * n) == sorted(RELATIONS)
    assert sorted(a for kind, a, _ in seen if kind == "cross") == sorted(ATTRIBUTES)
    assert len(monitors) == 2 * len(ATTRIBUTES) + 1
    assert all(0.0 <= float(v) <= 1.0 for v in monitors.values())


def test_scene_boxes_option(tmp_path):
    w = NSCL.build({**NSCL.smoke, "data_dir": str(tmp_path), "boxes": "scene",
                    "question_parser_backend": "torch"}, seed=1)
    (s,) = w.make_samples(1)
    assert len(w.run(s)) == len(s["questions"])


def test_bad_params():
    with pytest.raises(WorkloadError):
        NSCL.build({**NSCL.smoke, "min_objects": 5, "max_objects": 4}, seed=0)


def test_detectron2_backend_error_when_missing(monkeypatch):
    from nscharacterize.workloads.parsers import mask_rcnn

    monkeypatch.setattr(mask_rcnn, "detectron2_available", lambda: False)
    with pytest.raises(WorkloadError, match="detectron2"):
        NSCL.build({**NSCL.smoke, "parser_backend": "detectron2"}, seed=0)


@pytest.mark.cuda
def test_cuda_pipeline(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    w = NSCL.build({**NSCL.smoke, "data_dir": str(tmp_path)}, seed=0)
    w.to_device("cuda")
    (s,) = w.make_samples(1)
    assert len(w.run(s)) == len(s["questions"])
