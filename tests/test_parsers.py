"""The shared neural parsers: Mask R-CNN image/frame parser and Transformer question parser."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nscharacterize.workloads.base import WorkloadError
from nscharacterize.workloads.parsers import mask_rcnn, question
from nscharacterize.workloads.parsers import MaskRCNNParser, QuestionParser

SMALL = dict(min_size=96, max_size=160)


@pytest.fixture(scope="module")
def image_parser():
    return MaskRCNNParser(backend="torchvision", **SMALL)


@pytest.mark.parametrize("n_objects", [3, 10])
def test_mask_rcnn_detections_follow_object_count(image_parser, n_objects):
    img = (np.random.default_rng(0).random((64, 96, 3)) * 255).astype(np.uint8)
    out = image_parser(img, n_objects)
    assert out["boxes"].shape == (n_objects, 4)
    assert out["scores"].shape == (n_objects,)
    assert out["masks"].shape == (n_objects, 1, 64, 96)      # pasted back at the input resolution
    assert (out["boxes"][:, 2] <= 96).all() and (out["boxes"][:, 3] <= 64).all()


def test_mask_rcnn_threshold_zero_mode():
    parser = MaskRCNNParser(candidates_per_object=None, **SMALL)
    img = (np.random.default_rng(1).random((64, 96, 3)) * 255).astype(np.uint8)
    assert parser(img, 5)["boxes"].shape == (5, 4)
    assert parser.model.roi_heads.score_thresh == 0.0


def test_mask_rcnn_driven_threshold_passes_the_candidates(image_parser):
    img = (np.random.default_rng(2).random((64, 96, 3)) * 255).astype(np.uint8)
    image_parser(img, 6)
    assert image_parser.model.roi_heads.score_thresh > 0.0      # set from this image's scores


def test_mask_rcnn_accepts_tensors_and_is_deterministic(image_parser):
    img = torch.rand(3, 64, 96)
    a, b = image_parser(img, 4), image_parser(img, 4)
    assert torch.equal(a["boxes"], b["boxes"])
    assert image_parser((img * 255).byte().permute(1, 2, 0), 4)["boxes"].shape == (4, 4)


def test_mask_rcnn_same_seed_same_weights():
    a, b = MaskRCNNParser(seed=3, **SMALL), MaskRCNNParser(seed=3, **SMALL)
    pa, pb = next(a.model.parameters()), next(b.model.parameters())
    assert torch.equal(pa, pb)


def test_mask_rcnn_detectron2_missing_is_a_workload_error(monkeypatch):
    monkeypatch.setattr(mask_rcnn, "detectron2_available", lambda: False)
    with pytest.raises(WorkloadError, match="detectron2"):
        MaskRCNNParser(backend="detectron2", **SMALL)


def test_mask_rcnn_unknown_backend():
    with pytest.raises(WorkloadError, match="backend"):
        MaskRCNNParser(backend="yolo")


def _small_parser(backend):
    return QuestionParser(backend=backend, src_vocab=40, tgt_vocab=30, d_model=64, heads=8, layers=2, ff=128)


@pytest.mark.parametrize("backend", ["opennmt", "torch"])
def test_question_parser_decodes_exact_length(backend):
    if backend == "opennmt" and not question.onmt_available():
        pytest.skip("OpenNMT-py (onmt) cannot be imported")
    parser = _small_parser(backend)
    out = parser(list(range(3, 21)), 11)
    assert out.shape == (11,) and out.dtype == torch.long
    assert int(out.min()) >= 0 and int(out.max()) < 30
    assert torch.equal(out, parser(list(range(3, 21)), 11))   # stateless across calls
    assert parser([5, 6, 7], 4).shape == (4,)


def test_question_parser_opennmt_full_size_has_base_shape():
    if not question.onmt_available():
        pytest.skip("OpenNMT-py (onmt) cannot be imported")
    parser = QuestionParser(backend="opennmt", src_vocab=96, tgt_vocab=64)
    assert len(parser.model.encoder.transformer) == 6
    assert len(parser.model.decoder.transformer_layers) == 6
    for p in parser.model.parameters():
        assert torch.isfinite(p).all()
    assert parser.model.generator.in_features == 512


def test_question_parser_torch_full_size():
    parser = QuestionParser(backend="torch", src_vocab=96, tgt_vocab=64)
    t = parser.model.transformer
    assert len(t.encoder.layers) == 6 and len(t.decoder.layers) == 6 and t.d_model == 512
    assert t.encoder.layers[0].linear1.out_features == 2048


def test_question_parser_opennmt_missing_is_a_workload_error(monkeypatch):
    monkeypatch.setattr(question, "onmt_available", lambda: False)
    with pytest.raises(WorkloadError, match="OpenNMT"):
        QuestionParser(backend="opennmt")
    assert question.default_backend() == "torch"


def test_question_parser_rejects_out_of_vocab():
    with pytest.raises(WorkloadError):
        _small_parser("torch")([999], 3)
