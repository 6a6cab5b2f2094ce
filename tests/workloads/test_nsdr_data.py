"""Synthetic CLEVRER: physics, determinism, question types and lengths, files on disk."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nscharacterize.workloads.nsdr.clevrer.annotations import gt_predictions
from nscharacterize.workloads.nsdr.clevrer.dataset import ensure_dataset, load_video
from nscharacterize.workloads.nsdr.clevrer.physics import Body, simulate
from nscharacterize.workloads.nsdr.clevrer.questions import make_questions, question_words
from nscharacterize.workloads.nsdr.clevrer.frame_image import render_frame
from nscharacterize.workloads.nsdr.clevrer.videos import GenConfig, generate_video

CFG = GenConfig(frames=10, min_objects=3, max_objects=5)


def test_planted_head_on_collision_is_detected_at_the_right_frame():
    # gap 162 px between surfaces, closing speed 4 px/frame: contact at t = 40.5, first seen at frame 41
    r = 20.0
    bodies = [Body(r, 1.0, (100.0, 160.0), (2.0, 0.0)), Body(r, 1.0, (100.0 + 2 * r + 162.0, 160.0), (-2.0, 0.0))]
    res = simulate(bodies, 60, friction=0.0)
    assert res.collisions == [{"frame": math.ceil(162.0 / 4.0), "objects": [0, 1]}]
    # equal masses, elastic, head-on: the velocities are exchanged
    assert res.velocities[-1, 0, 0] == pytest.approx(-2.0, abs=1e-6)
    assert res.velocities[-1, 1, 0] == pytest.approx(2.0, abs=1e-6)


def test_friction_stops_a_sliding_object_and_nothing_collides_alone():
    res = simulate([Body(20.0, 1.0, (50.0, 50.0), (3.0, 0.0))], 200, friction=0.04)
    assert res.collisions == []
    assert np.linalg.norm(res.velocities[-1, 0]) == 0.0
    stop = 3.0 / 0.04  # frames to stop; distance v^2 / 2a
    assert res.positions[-1, 0, 0] == pytest.approx(50.0 + 3.0 * stop / 2, rel=0.02)


def test_counterfactual_removal_changes_the_collisions():
    r = 20.0
    bodies = [Body(r, 1.0, (100.0, 160.0), (3.0, 0.0)), Body(r, 1.0, (300.0, 160.0), (0.0, 0.0)),
              Body(r, 1.0, (400.0, 160.0), (0.0, 0.0))]
    full = simulate(bodies, 150, friction=0.0)
    assert [c["objects"] for c in full.collisions][:2] == [[0, 1], [1, 2]]
    without_1 = simulate(bodies, 150, friction=0.0, active=[True, False, True])
    assert [c["objects"] for c in without_1.collisions] == [[0, 2]]
    assert not without_1.visible[:, 1].any()


def test_generator_is_deterministic_from_the_seed():
    a, b = generate_video(3, 10000, CFG), generate_video(3, 10000, CFG)
    assert np.array_equal(a.positions, b.positions) and a.collisions == b.collisions and a.objects == b.objects
    c = generate_video(4, 10000, CFG)
    assert not np.array_equal(a.positions[0], c.positions[0])
    qa = make_questions(a, gt_predictions(a), 3)
    qb = make_questions(b, gt_predictions(b), 3)
    assert qa == qb


def test_questions_have_the_four_types_and_clevrer_lengths():
    words = {"descriptive": [], "explanatory": [], "predictive": [], "counterfactual": []}
    for vid in range(10000, 10004):
        v = generate_video(0, vid, CFG)
        questions, programs = make_questions(v, gt_predictions(v), 0)
        assert len(questions) == len(programs)
        for q, p in zip(questions, programs):
            words[q["question_type"]].append(question_words(q))
            if q["question_type"] == "descriptive":
                assert p["program"][-1].startswith(("query_", "count", "exist"))
            else:
                assert 2 <= len(q["choices"]) <= 4 and {c["answer"] for c in q["choices"]} <= {"correct", "wrong"}
                assert p["question_program"][-1] in ("belong_to", "negate")
    assert all(words.values()), {k: len(v) for k, v in words.items()}
    assert 9 <= np.mean(words["descriptive"]) <= 14          # CLEVRER open-ended: ~11 words
    mc = words["explanatory"] + words["predictive"] + words["counterfactual"]
    assert 40 <= np.mean(mc) <= 60                           # multiple choice with choices: ~51 words


def test_rendered_frame_and_masks_agree():
    v = generate_video(0, 10001, CFG)
    img, mask = render_frame(v, 0)
    assert img.shape == (320, 480, 3) and img.dtype == np.uint8 and mask.shape == (320, 480)
    for i in range(v.n_objects):
        if v.visible[0, i]:
            ys, xs = np.nonzero(mask == i + 1)
            if len(xs) > 200:  # not hidden behind another object
                assert abs(xs.mean() - v.positions[0, i, 0]) < 6 and abs(ys.mean() - v.positions[0, i, 1]) < 6


def test_dataset_on_disk_uses_the_clevrer_layout(tmp_path):
    cfg = GenConfig(frames=4, min_objects=2, max_objects=3)
    ids = ensure_dataset(str(tmp_path), 2, 0, cfg)
    assert ids == [10000, 10001]
    for sub in ("video_validation/video_10000/frame_00005.png", "video_validation/video_10000/mask_00005.png",
                "annotation_validation/annotation_10001.json", "parsed_programs/programs_10000.json",
                "validation.json", "meta.json"):
        assert (tmp_path / sub).exists(), sub
    val = json.loads((tmp_path / "validation.json").read_text())
    assert [v["scene_index"] for v in val] == ids
    s = load_video(str(tmp_path), 10000, cfg)
    assert s.frames.shape == (4, 320, 480, 3) and s.masks.shape == (4, 320, 480)
    assert s.frame_indices == (0, 5, 10, 15) and not s.frames.flags.writeable
    boxes = s.annotation["rendered_frames"][1]["objects"]
    for b in boxes:
        ys, xs = np.nonzero(s.masks[1] == b["object_id"] + 1)
        assert b["bbox"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    mtime = (tmp_path / "validation.json").stat().st_mtime_ns
    ensure_dataset(str(tmp_path), 2, 0, cfg)                 # already there: not regenerated
    assert (tmp_path / "validation.json").stat().st_mtime_ns == mtime
