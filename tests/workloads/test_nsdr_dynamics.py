"""NS-DR's convolutional PropNet: shapes, sparse products, rollout call counts, and the JSON hand-off
to the executor (the Mask R-CNN frame parser is covered by the shared parser tests)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from nscharacterize.taxonomy.classifier import Taxonomy
from nscharacterize.workloads.nsdr.clevrer.dataset import ensure_dataset, load_video, write_video
from nscharacterize.workloads.nsdr.clevrer.videos import GenConfig, Video
from nscharacterize.workloads.nsdr.dynamics import ConvPropNet, Rollout, build_tracks, prepare_relations
from nscharacterize.workloads.nsdr.executor import answer_video
from nscharacterize.workloads.nsdr.workload import proposals_from_masks


def _tiny_model() -> ConvPropNet:
    torch.manual_seed(0)
    return ConvPropNet(nf_particle=8, nf_relation=8, nf_effect=16).eval()


def _inputs(n: int):
    idx_r, idx_s, value, node_r, node_s = prepare_relations(n)
    Rr = torch.sparse_coo_tensor(idx_r, value, (n, n * n), check_invariants=False)
    Rs = torch.sparse_coo_tensor(idx_s, value, (n, n * n), check_invariants=False)
    return (torch.randn(n, 5, 24, 24), torch.randn(n, 18, 24, 24), Rr, Rs, torch.randn(n * n, 9, 24, 24),
            node_r, node_s)


def test_paper_sized_model_shapes():
    torch.manual_seed(0)
    model = ConvPropNet().eval()                      # 128-256-384-512 encoders, 512-d effects
    enc = model.relation_encoder
    assert [enc.conv1.in_channels, enc.conv1.out_channels, enc.conv2.out_channels, enc.conv3.out_channels,
            enc.conv4.out_channels] == [55, 128, 256, 384, 512]
    assert model.particle_encoder.conv1.in_channels == 23
    assert model.particle_predictor.up1.in_channels == 1024 and model.particle_predictor.up4.out_channels == 6
    with torch.no_grad():
        pred_obj, pred_rel, effect = model(*_inputs(3), pstep=2)
    assert pred_obj.shape == (3, 6, 24, 24) and pred_rel.shape == (9, 1) and effect.shape == (3, 512)
    # position channels are spatial means
    assert torch.allclose(pred_obj[:, 1], pred_obj[:, 1, :1, :1].expand(3, 24, 24))


def test_relation_products_run_sparse_and_classify_as_sparse_mm():
    model = _tiny_model()
    x = _inputs(4)
    assert x[2].layout == torch.sparse_coo and x[2].shape == (4, 16)
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        model(*x, pstep=2)
    names = {e.key for e in prof.key_averages()}
    assert names & {"aten::_sparse_addmm", "aten::_sparse_mm", "aten::addmm"} and "aten::_sparse_addmm" in names
    tax = Taxonomy()
    assert tax.classify("op", "aten::_sparse_addmm").category == "sparse_mm"
    assert tax.classify("op", "aten::mm", children=("aten::_sparse_addmm",)).category == "sparse_mm"


def _static_sample(tmp_path, frames: int = 5):
    """Three resting objects, visible throughout: every rollout step has objects to predict."""
    cfg = GenConfig(frames=frames, min_objects=3, max_objects=3)
    T = cfg.steps * cfg.frame_stride
    pos = np.zeros((T, 3, 2))
    pos[:, 0], pos[:, 1], pos[:, 2] = (100, 100), (240, 160), (380, 220)
    vis = np.ones((T, 3), dtype=bool)
    objects = [{"object_id": 0, "color": "red", "material": "metal", "shape": "cube"},
               {"object_id": 1, "color": "blue", "material": "rubber", "shape": "sphere"},
               {"object_id": 2, "color": "green", "material": "rubber", "shape": "cylinder"}]
    cf = {k: {"positions": pos, "visible": vis & (np.arange(3) != k)[None, :], "collisions": []} for k in range(3)}
    video = Video(10000, cfg, objects, pos, np.zeros_like(pos), vis, [], cf)
    write_video(str(tmp_path), video, 0)
    return load_video(str(tmp_path), 10000, cfg), cfg


def test_rollout_calls_the_model_once_per_step_with_history(tmp_path):
    frames = 5
    sample, cfg = _static_sample(tmp_path, frames)
    tracks = build_tracks(proposals_from_masks(sample))
    assert len(tracks["ids_filter"]) == 3 and len(tracks["frames_gt"]) == frames
    attr, feat, ident = tracks["frames_gt"][0][0][0]
    assert attr.shape == (5, 24, 24) and feat.shape == (1, 6, 24, 24)
    model = _tiny_model()
    pred = Rollout(model).run(tracks)
    n = 3
    # (1 + n) rollouts x (observed steps with 3 frames of history + 12 extrapolated steps)
    assert model.calls == (1 + n) * ((frames - 3) + 12)
    assert [p["what_if"] for p in pred["predictions"]] == [-1, 0, 1, 2]
    for p in pred["predictions"]:
        assert [t["frame_index"] for t in p["trajectory"]] == [5 * i for i in range(frames + 12)]
        ids = {o["color"] for t in p["trajectory"] for o in t["objects"]}
        assert len(ids) == (3 if p["what_if"] == -1 else 2)
    red = pred["predictions"][0]["trajectory"][-1]["objects"][0]
    assert red["color"] == "red" and abs(red["y"] - 100) < 4 and abs(red["x"] - 100) < 4   # x = row, y = column


def test_predictions_json_answers_like_the_ground_truth(tmp_path):
    cfg = GenConfig(frames=8, min_objects=3, max_objects=4)
    ensure_dataset(str(tmp_path), 1, 0, cfg)
    sample = load_video(str(tmp_path), 10000, cfg)
    tracks = build_tracks(proposals_from_masks(sample))
    pred = Rollout(_tiny_model()).run(tracks)
    path = tmp_path / "sim.json"
    path.write_text(json.dumps(pred))
    answers = answer_video(str(path), sample.programs_path, n_vis_frames=40, end_frame=35)
    truth = json.loads((tmp_path / "validation.json").read_text())[0]["questions"]
    agree = [answers[q["question_id"]] == (q["answer"] if "answer" in q else [c["answer"] for c in q["choices"]])
             for q in truth]
    # positions come from masks here, not from the simulator, so an answer may flip at a threshold
    assert np.mean(agree) >= 0.9, list(zip(truth, answers.values()))


@pytest.mark.parametrize("what", ["sample is not mutated"])
def test_components_are_pure(tmp_path, what):
    sample, _ = _static_sample(tmp_path, 4)
    before = json.dumps(sample.annotation)
    tracks = build_tracks(proposals_from_masks(sample))
    Rollout(_tiny_model()).run(tracks)
    Rollout(_tiny_model()).run(tracks)
    assert json.dumps(sample.annotation) == before
