"""The NSCL workload end to end at smoke size: components, purity, detections and answers."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from nscharacterize.workloads import registry
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
    with pytest.raises(Exception):
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
    assert feats["objects"].shape == (n, 256) and feats["relations"].shape == (n, n, 256)
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
