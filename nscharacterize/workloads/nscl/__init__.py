"""NSCL (Neuro-Symbolic Concept Learner) on synthetic or real CLEVR.

One profiled sample is one image with its questions, run end to end as the deployed system would:

    image_parser       (neural)    Mask R-CNN R50-FPN -> one detection per scene object (once per image)
    feature_extractor  (neural)    ResNet-34 to layer3 + SceneGraph -> object [N,256], relation [N,N,256],
                                   once per question (the release's sample is one question)
    question_parser    (neural)    Transformer seq2seq, greedy, one step per program token
    program_executor   (symbolic)  per question: the quasi-symbolic executor on the question's program
                                   -> answer, then the scene-parsing loss (concept similarities of every
                                   attribute over all objects, relation concepts over all pairs)

The release's dataset yields one sample per question and loads the image each time, so its model
runs ResNet-34 and the scene graph once per question, and its evaluation forward computes the
scene-parsing loss's monitors every time. ``share_image_features: true`` runs both once per image
and shares them among the image's questions: an optimization the release does not make. Detections
stay once per image either way: the release reads precomputed per-image proposals.

The released NSCL model runs pre-parsed programs; the question parser's decoded tokens come from
random weights, so the executor runs each question's ground-truth program (translated to NSCL's op
set) while the parser does the real amount of decoding work. All weights are random with a fixed
seed. Paper-scale settings: configs/paper/nscl.yaml.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import torch
from pydantic import Field

from ..base import Component, Workload, WorkloadError
from ..parsers.params import MaskRCNNParams
from ..registry import WorkloadSpec
from ..clevr_common import dataset as clevr_dataset
from ..clevr_common.vocab import PROGRAM_VOCAB, QUESTION_VOCAB
from .samples import load as load_samples


class NSCLParams(MaskRCNNParams):
    data_dir: Optional[str] = Field(None, description="CLEVR-layout folder (real CLEVR v1.0 works too); default "
                                    "data/clevr-synth-<seed> under the working directory, generated if missing")
    split: str = Field("val", description="CLEVR split whose files are read/written (CLEVR_<split>_*.json)")
    questions_per_image: int = Field(10, ge=1, description="questions run per image (CLEVR val has ~10)")
    min_objects: int = Field(3, ge=1, le=10, description="fewest objects in a synthetic scene")
    max_objects: int = Field(10, ge=1, le=10, description="most objects in a synthetic scene")
    question_parser_backend: Literal["auto", "opennmt", "torch"] = Field(
        "auto", description="Transformer implementation: OpenNMT-py when importable (auto), or torch.nn")
    question_parser_layers: int = Field(6, ge=1, description="encoder and decoder layers (Transformer-base: 6)")
    question_parser_dim: int = Field(512, ge=8, description="d_model (Transformer-base: 512; ff is 4x)")
    question_parser_heads: int = Field(8, ge=1, description="attention heads (Transformer-base: 8)")
    feature_image_size: int = Field(256, ge=32, description="shorter side fed to ResNet-34 (NSCL: 256)")
    boxes: Literal["detections", "scene"] = Field(
        "detections", description="boxes for RoI features: the parser's detections, or the scene annotations")
    share_image_features: bool = Field(
        False, description="run ResNet-34, the scene graph and the scene-parsing loss once per image and share "
        "them among its questions (an optimization the release does not make: it runs them once per question)")


def build_nscl(p: NSCLParams, seed: int) -> Workload:
    from ..parsers import QuestionParser
    from .model import Executor, FeatureExtractor, SceneParsingLoss

    if p.min_objects > p.max_objects:
        raise WorkloadError(f"nscl: min_objects ({p.min_objects}) exceeds max_objects ({p.max_objects})")
    if p.question_parser_dim % p.question_parser_heads:
        raise WorkloadError("nscl: question_parser_dim must be a multiple of question_parser_heads")
    image_parser = p.build_parser(seed)
    backend = None if p.question_parser_backend == "auto" else p.question_parser_backend
    question_parser = QuestionParser(backend=backend, src_vocab=len(QUESTION_VOCAB),
                                     tgt_vocab=len(PROGRAM_VOCAB), d_model=p.question_parser_dim,
                                     heads=p.question_parser_heads, layers=p.question_parser_layers,
                                     ff=4 * p.question_parser_dim, seed=seed + 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 2)
        features = FeatureExtractor(p.feature_image_size).eval()
        executor = Executor().eval()
    scene_loss = SceneParsingLoss()
    state = {"device": "cpu"}
    data_dir = Path(p.data_dir) if p.data_dir else Path("data") / f"clevr-synth-{seed}"

    def to_device(device: str) -> None:
        state["device"] = device
        image_parser.to(device)
        question_parser.to(device)
        features.to(device)
        executor.to(device)

    def make_samples(n: int) -> list:
        paths = clevr_dataset.ensure(data_dir, seed, n, p.questions_per_image, p.split, p.min_objects, p.max_objects)
        return load_samples(paths, n, p.questions_per_image)

    def parse_image(sample: dict) -> dict:
        image = torch.from_numpy(sample["image"]).to(state["device"])
        detections = image_parser(image, sample["n_objects"])
        return {"sample": sample, "image": image, "boxes": detections["boxes"]}

    def extract_features(x: dict) -> dict:
        boxes = x["boxes"] if p.boxes == "detections" else \
            torch.from_numpy(x["sample"]["scene_boxes"]).to(state["device"])
        runs = 1 if p.share_image_features else len(x["sample"]["questions"])
        with torch.no_grad():
            computed = [features(x["image"], boxes) for _ in range(runs)]
        per_question = computed * len(x["sample"]["questions"]) if p.share_image_features else computed
        return {"sample": x["sample"], "features": per_question}

    def parse_questions(x: dict) -> dict:
        decoded = [question_parser(q["tokens"], len(q["program_tokens"])) for q in x["sample"]["questions"]]
        return {**x, "decoded": decoded, "programs": [q["nscl"] for q in x["sample"]["questions"]]}

    def execute(x: dict) -> list[str]:
        device = state["device"]
        labels = {k: ({a: torch.from_numpy(v).to(device) for a, v in val.items()} if isinstance(val, dict)
                      else torch.from_numpy(val).to(device)) for k, val in x["sample"]["labels"].items()}
        answers = []
        with torch.no_grad():
            for k, ((obj_f, rel_f), program) in enumerate(zip(x["features"], x["programs"])):
                answers.append(executor.run(obj_f, rel_f, program))     # reasoning, then the loss, as the release
                if k == 0 or not p.share_image_features:
                    scene_loss(executor.attribute, executor.relation, obj_f, rel_f, labels)
        return answers

    info = {"image_parser": p.parser_info(image_parser),
            "question_parser": {"backend": question_parser.backend, "layers": p.question_parser_layers,
                                "d_model": p.question_parser_dim, "parameters": question_parser.parameters},
            "feature_extractor": {"image_size": p.feature_image_size,
                                  "parameters": sum(t.numel() for t in features.parameters())},
            "executor": {"parameters": sum(t.numel() for t in executor.parameters())},
            "data_dir": str(data_dir), "questions_per_image": p.questions_per_image,
            "features_per": "image" if p.share_image_features else "question"}
    return Workload(
        name="nscl",
        components=[Component("image_parser", parse_image, kind="neural", profiler="torch"),
                    Component("feature_extractor", extract_features, kind="neural", profiler="torch",
                              modules=(features,)),
                    Component("question_parser", parse_questions, kind="neural", profiler="torch",
                              modules=question_parser.modules),
                    Component("program_executor", execute, kind="symbolic", profiler="torch",
                              modules=(executor,))],
        make_samples=make_samples, to_device=to_device, info=info)


NSCL = WorkloadSpec(
    "nscl", "NSCL on CLEVR: Mask R-CNN + ResNet-34 scene graph + Transformer parser + quasi-symbolic executor",
    NSCLParams, build_nscl,
    smoke={"parser_min_size": 128, "parser_max_size": 192, "questions_per_image": 1, "question_parser_layers": 1,
           "question_parser_dim": 64, "feature_image_size": 128, "max_objects": 4})
