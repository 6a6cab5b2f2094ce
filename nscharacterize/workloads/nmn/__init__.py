"""IEP-style neural module network (Johnson et al. 2017; the TbD-net module layout is the same
idea) on synthetic CLEVR, with three ways to execute a batch of module programs.

One sample is one batch of ``batch_size`` questions, each on its own image (as CLEVR batches are):

    feature_extractor  (neural)  ResNet-101 to conv4 (layer3) on 224x224 images -> 1024 x 14 x 14,
                                 as IEP's extract_features.py; absent with ``features: synthetic``
    execution_engine   (neural)  stem, one module call per schedule entry, classifier -> answers

Programs are the generated questions' CLEVR programs (nscharacterize/workloads/nscl's generator). ``mode`` picks the
schedule (see :mod:`.programs`): ``per_example``, ``batched`` or ``batched_depth``; all three give
the same answers on the same batch. ``Workload.info["batches"]`` holds, per batch, the module calls
of every mode beside the bounds b*s, p*s and p*d, and every module call runs inside a profiler range
``nmn.module_call`` whose count in events.parquet is the calls of the profiled pass.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field

from ..base import Component, Workload, WorkloadError
from ..clevr_common import questions as clevr_questions
from ..clevr_common import scene_image
from ..clevr_common import scenes as clevr_scenes
from ..clevr_common import vocab as clevr_vocab
from ..registry import Params, WorkloadSpec
from . import programs as prog
from .model import ANSWERS, CALL_RANGE, ModuleNet

TOKENS = [t for t in clevr_vocab.PROGRAM_VOCAB if not t.startswith("<")]   # IEP: one module per token


class NMNParams(Params):
    mode: Literal["per_example", "batched", "batched_depth"] = Field(
        "batched_depth", description="module schedule: one question at a time (per_example), one call per "
        "module type per program position (batched) or per tree height (batched_depth)")
    batch_size: int = Field(16, ge=1, le=512, description="questions per sample (each on its own image)")
    features: Literal["resnet101", "synthetic"] = Field(
        "resnet101", description="image features: ResNet-101 conv4 on the rendered images (a profiled "
        "component), or seeded random ReLU features of the same shape standing in for IEP's precomputed ones")
    feature_dim: int = Field(1024, ge=1, description="channels of the image features (ResNet-101 conv4: 1024)")
    feature_size: int = Field(14, ge=2, description="height = width of the feature map (224 / 16 = 14)")
    module_dim: int = Field(128, ge=1, description="channels of every module (IEP: 128)")
    stem_layers: int = Field(2, ge=1, le=8, description="3x3 conv + ReLU layers of the stem (IEP: 2)")
    classifier_proj_dim: int = Field(512, ge=1, description="1x1 conv channels before pooling (IEP: 512)")
    classifier_fc: int = Field(1024, ge=1, description="hidden fully connected width (IEP: 1024)")
    min_objects: int = Field(3, ge=1, le=10, description="fewest objects in a synthetic scene")
    max_objects: int = Field(10, ge=1, le=10, description="most objects in a synthetic scene")


def build_nmn(p: NMNParams, seed: int) -> Workload:
    if p.min_objects > p.max_objects:
        raise WorkloadError(f"nmn: min_objects ({p.min_objects}) exceeds max_objects ({p.max_objects})")
    if p.features == "resnet101" and (p.feature_dim, p.feature_size) != (1024, 14):
        raise WorkloadError("nmn: features 'resnet101' gives 1024 x 14 x 14 conv4 features; set feature_dim: 1024 "
                            "and feature_size: 14, or use features: synthetic for other sizes")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = ModuleNet(TOKENS, p.feature_dim, p.feature_size, p.module_dim, p.stem_layers,
                        p.classifier_proj_dim, p.classifier_fc).eval()
        extractor = _resnet101_conv4().eval() if p.features == "resnet101" else None
    state = {"device": "cpu"}
    info: dict = {"mode": p.mode, "batch_size": p.batch_size, "features": p.features,
                  "module_types": len(TOKENS), "module_dim": p.module_dim,
                  "parameters": sum(t.numel() for t in net.parameters()),
                  "feature_extractor_parameters": sum(t.numel() for t in extractor.parameters()) if extractor else 0,
                  "batches": []}

    def to_device(device: str) -> None:
        state["device"] = device
        net.to(device)
        if extractor is not None:
            extractor.to(device)

    def make_samples(n: int) -> list[dict]:
        samples = [make_batch(seed, i, p) for i in range(n)]
        info["batches"] = [{"batch": s["index"], **prog.call_counts(s["programs"])} for s in samples]
        return samples

    def extract(sample: dict) -> dict:
        images = torch.from_numpy(sample["images"]).to(state["device"])
        x = (images.permute(0, 3, 1, 2).float() / 255.0 - _MEAN.to(images.device)) / _STD.to(images.device)
        with torch.no_grad():
            return {**sample, "features": extractor(x)}

    def execute(sample: dict) -> list[str]:
        features = sample["features"]
        if isinstance(features, np.ndarray):
            features = torch.from_numpy(features)
        with torch.no_grad():
            logits = net.execute(features.to(state["device"]), sample["programs"], p.mode)
        return [ANSWERS[i] for i in logits.argmax(-1).tolist()]

    components = [Component("execution_engine", execute, kind="neural", profiler="torch",
                            modules=(net.stem, net.classifier, *net.function_modules.values()))]
    if extractor is not None:
        components.insert(0, Component("feature_extractor", extract, kind="neural", profiler="torch",
                                       modules=(extractor,)))
    workload = Workload(name="nmn", components=components, make_samples=make_samples, to_device=to_device,
                        info=info)
    workload.net = net   # type: ignore[attr-defined]  # for tests and users
    return workload


_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def _resnet101_conv4() -> torch.nn.Module:
    """ResNet-101 up to layer3 (conv4_x): 1024 x 14 x 14 on a 224 x 224 image, IEP's feature stage 3."""
    from torchvision.models import resnet101

    r = resnet101(weights=None)
    return torch.nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2, r.layer3)


def make_batch(seed: int, index: int, p: NMNParams) -> dict:
    """Batch ``index``: images index*b .. index*b+b-1 of the synthetic set, one question each.

    Deterministic from (seed, index); programs are checked to be topologically ordered module
    programs. Images (224 x 224, resized as IEP's feature extraction does) are rendered only for
    ``features: resnet101``; synthetic features come from a generator seeded by (seed, index).
    """
    b = p.batch_size
    programs, answers, images = [], [], []
    for k in range(index * b, index * b + b):
        scene = clevr_scenes.make_scene(seed, k, p.min_objects, p.max_objects)
        q = clevr_questions.make_questions(scene, seed, 1)[0]
        prog.check(q["program"])
        programs.append(q["program"])
        answers.append(q["answer"])
        if p.features == "resnet101":
            images.append(_resize(scene_image.render(scene), 224))
    sample = {"index": index, "programs": programs, "answers": answers}
    if images:
        sample["images"] = np.stack(images)
    else:
        rng = np.random.default_rng([seed, index, 11])
        feats = rng.standard_normal((b, p.feature_dim, p.feature_size, p.feature_size), dtype=np.float32)
        sample["features"] = np.maximum(feats, 0.0)
    return sample


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC), dtype=np.uint8)  # type: ignore[attr-defined]  # not in the stubs


NMN = WorkloadSpec(
    "nmn", "IEP neural module network on CLEVR: ResNet-101 conv4 + residual modules, per-example or "
    "topologically batched execution (Suarez & Zhu)", NMNParams, build_nmn,
    smoke={"batch_size": 4, "features": "synthetic", "feature_dim": 32, "feature_size": 8, "module_dim": 16,
           "classifier_proj_dim": 16, "classifier_fc": 32, "max_objects": 5})

__all__ = ["NMN", "NMNParams", "build_nmn", "make_batch", "CALL_RANGE"]
