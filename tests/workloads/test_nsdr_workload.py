"""NS-DR end to end at smoke size: Mask R-CNN per frame -> tracks -> PropNet -> JSON -> executor."""
from __future__ import annotations

import json
import os

import pytest

from nscharacterize.workloads.base import WorkloadError
from nscharacterize.workloads.nsdr import NSDR
from nscharacterize.workloads.registry import get_spec


def test_pipeline_answers_the_generated_questions(tmp_path):
    # all 12 extrapolated steps, as the generator simulates them, so the answers can agree
    w = get_spec("nsdr").build({**NSDR.smoke, "extra_steps": 12, "data_dir": str(tmp_path)}, seed=0)
    assert [(c.name, c.kind, c.profiler) for c in w.components] == [
        ("frame_parser", "neural", "torch"), ("trajectories", "neural", "torch"),
        ("dynamics_predictor", "neural", "torch"), ("executor", "symbolic", "cprofile")]
    sample = w.make_samples(1)[0]
    x = sample
    outputs = []
    for c in w.components:
        x = c.fn(x)
        outputs.append(x)
    proposals = outputs[0]
    assert len(proposals["frames"]) == NSDR.smoke["frames"]
    assert all(o["mask"].shape == (320, 480) for f in proposals["frames"] for o in f["objects"])
    paths = outputs[2]
    assert os.path.exists(paths["predictions"]) and paths["predictions"].endswith("sim_10000.json")
    pred = json.loads(open(paths["predictions"]).read())
    n = len(pred["objects"])
    assert [p["what_if"] for p in pred["predictions"]] == list(range(-1, n))
    truth = json.loads(open(os.path.join(w.info["data_dir"], "validation.json")).read())[0]["questions"]
    assert os.path.dirname(w.info["data_dir"]) == str(tmp_path)
    answers = outputs[3]
    assert set(answers) == {q["question_id"] for q in truth}
    agree = [answers[q["question_id"]] == (q["answer"] if "answer" in q else [c["answer"] for c in q["choices"]])
             for q in truth]
    assert sum(agree) >= 0.9 * len(agree)


def test_bad_params_are_user_errors():
    with pytest.raises(WorkloadError, match="min_objects"):
        NSDR.build({**NSDR.smoke, "min_objects": 4, "max_objects": 3}, seed=0)
    with pytest.raises(Exception, match="extra"):
        NSDR.build({**NSDR.smoke, "bogus": 1}, seed=0)


@pytest.mark.parametrize("parse_all", [False, True])
def test_frame_parser_runs_per_video(tmp_path, monkeypatch, parse_all):
    from nscharacterize.workloads.parsers.mask_rcnn import MaskRCNNParser

    params = {**NSDR.smoke, "frames": 3, "frame_stride": 4, "data_dir": str(tmp_path), "parse_all_frames": parse_all}
    w = get_spec("nsdr").build(params, seed=0)
    (sample,) = w.make_samples(1)
    calls = []
    real = MaskRCNNParser.__call__
    monkeypatch.setattr(MaskRCNNParser, "__call__", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    proposals = w.components[0].fn(sample)
    runs = 3 * 4 if parse_all else 3                          # every video frame, or the sampled ones
    assert len(calls) == runs == w.info["parser_runs_per_video"]
    assert [f["frame_index"] for f in proposals["frames"]] == [0, 4, 8]     # dynamics: sampled frames only
    assert w.info["data_dir"].endswith("-allframes") == parse_all
