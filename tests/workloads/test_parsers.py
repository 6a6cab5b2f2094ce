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


def _uncached_greedy(model, src, steps):
    """The decoding the cache replaces: the whole nn.TransformerDecoder over the prefix each step."""
    memory = model.transformer.encoder(model.embed(model.src_embed, src))
    out = torch.full((src.shape[0], 1), question.BOS, dtype=torch.long)
    for _ in range(steps):
        t = out.shape[1]
        causal = torch.triu(torch.full((t, t), float("-inf")), diagonal=1)
        dec = model.transformer.decoder(model.embed(model.tgt_embed, out), memory, tgt_mask=causal)
        out = torch.cat([out, model.generator(dec[:, -1]).argmax(-1, keepdim=True)], dim=1)
    return out[:, 1:], dec[:, -1]


def test_question_parser_torch_cache_matches_full_recompute():
    parser = _small_parser("torch")
    src = torch.arange(3, 21)[None]
    with torch.no_grad():
        ref_tokens, ref_last = _uncached_greedy(parser.model, src, 9)
        assert torch.equal(parser.model.greedy(src, 9), ref_tokens)
        # the cached step's output for the last position equals the full decoder's
        memory = parser.model.transformer.encoder(parser.model.embed(parser.model.src_embed, src))
        cache: dict = {}
        prev = torch.full((1, 1), question.BOS, dtype=torch.long)
        for step in range(9):
            out = parser.model.decode_step(prev, memory, step, cache)
            prev = ref_tokens[:, step:step + 1]
    torch.testing.assert_close(out[:, -1], ref_last, rtol=1e-4, atol=1e-4)


_GROUPS = {"gemm": ("mm", "addmm", "bmm", "baddbmm"), "softmax": ("_softmax", "_log_softmax"),
           "layer_norm": ("native_layer_norm",),
           "attention": ("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_attention_math")}


def _decoder_work(parser, steps):
    """(decoder steps, {group: aten ops}) of decoding ``steps`` tokens, counted at dispatch."""
    from torch.utils._python_dispatch import TorchDispatchMode

    counts = dict.fromkeys(_GROUPS, 0)
    calls = []

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func._schema.name.split("::")[-1]
            for group, names in _GROUPS.items():
                counts[group] += name in names
            return func(*args, **(kwargs or {}))

    hook = parser.model.generator.register_forward_hook(lambda *a: calls.append(1))
    try:
        with Count():
            parser(list(range(3, 15)), steps)
    finally:
        hook.remove()
    return len(calls), counts


def test_question_parser_backends_do_the_same_decoder_work():
    if not question.onmt_available():
        pytest.skip("OpenNMT-py (onmt) cannot be imported")
    work = {}
    for backend in ("opennmt", "torch"):
        parser = _small_parser(backend)
        steps7, ops7 = _decoder_work(parser, 7)
        steps8, ops8 = _decoder_work(parser, 8)
        steps1, ops1 = _decoder_work(parser, 1)
        steps2, ops2 = _decoder_work(parser, 2)
        assert (steps1, steps7, steps8) == (1, 7, 8)                   # one decoder step per token
        per_step = {g: ops8[g] - ops7[g] for g in _GROUPS}
        assert per_step == {g: ops2[g] - ops1[g] for g in _GROUPS}     # constant: nothing re-runs the prefix
        work[backend] = per_step
    assert work["torch"] == work["opennmt"]
    per_step = work["torch"]
    # 2 layers x (q, k, v, out, cross q, cross out, 2 feed-forward) + generator; attention on the
    # CPU: 2 products per attention, 2 attentions per layer
    assert per_step["gemm"] == 2 * (8 + 2 * 2) + 1
    assert per_step["layer_norm"] == 2 * 3 + 1
