"""NSCL's samples from a CLEVR-layout dataset: images, scene boxes and questions with programs.

One sample is one image with up to ``questions_per_image`` questions; each question carries its
tokens (question parser input), its CLEVR program's tokens (decoding length) and its NSCL program
(executor input). Questions outside NSCL's op set are skipped. The scene's labels (attribute ids,
same-attribute and relation flags) feed the scene-parsing loss, as the release's dataset makes them.
"""
from __future__ import annotations

import numpy as np

from ..base import WorkloadError
from ..clevr_common.dataset import Paths, estimate_bbox, read_image, read_questions, read_scenes
from ..clevr_common.attributes import ATTRIBUTES, RELATIONS
from ..clevr_common.vocab import program_tokens, tokenize
from .programs import to_nscl


def load(paths: Paths, images: int, questions_per_image: int) -> list[dict]:
    """The first ``images`` scenes with up to ``questions_per_image`` questions each, as samples."""
    scenes = read_scenes(paths)
    if len(scenes) < images:
        raise WorkloadError(f"{paths.scenes} holds {len(scenes)} scenes, fewer than the {images} samples asked for")
    by_image: dict[int, list[dict]] = {}
    for q in read_questions(paths):
        lst = by_image.setdefault(q["image_index"], [])
        if len(lst) < questions_per_image:
            lst.append(q)
    samples = []
    for scene in scenes[:images]:
        idx = scene["image_index"]
        image = read_image(paths, scene["image_filename"])
        qs = []
        for q in by_image.get(idx, []):
            try:
                blocks = to_nscl(q["program"])
            except ValueError:
                continue                                     # e.g. equal_object: outside NSCL's op set
            qs.append({"question": q["question"], "tokens": tokenize(q["question"]),
                       "program_tokens": program_tokens(q["program"]), "nscl": blocks,
                       "answer": q.get("answer")})
        if not qs:
            raise WorkloadError(f"image {idx} in {paths.root} has no questions NSCL can execute")
        boxes = [o.get("bbox") or estimate_bbox(o) for o in scene["objects"]]
        samples.append({"index": idx, "image": image, "n_objects": len(scene["objects"]),
                        "scene_boxes": np.asarray(boxes, dtype=np.float32), "questions": qs,
                        "labels": scene_labels(scene)})
    return samples


def scene_labels(scene: dict) -> dict:
    """The annotation-derived labels the scene-parsing loss checks against (numpy, made at load
    time as the release's dataset makes them): attribute ids per object, same-attribute flags per
    pair, and relation flags per pair and relational concept."""
    objects = scene["objects"]
    n = len(objects)
    attribute, same = {}, {}
    for attr, concepts in ATTRIBUTES.items():
        ids = np.array([concepts.index(o[attr]) for o in objects], dtype=np.int64)
        attribute[attr] = ids
        same[attr] = (ids[:, None] == ids[None, :]).astype(np.float32).reshape(-1)
    relation = np.zeros((n, n, len(RELATIONS)), dtype=np.float32)
    for k, r in enumerate(RELATIONS):
        for i, related in enumerate(scene["relationships"][r]):
            relation[related, i, k] = 1.0                     # object j is ``r`` of object i
    return {"attribute": attribute, "attribute_relation": same, "relation": relation.reshape(n * n, -1)}
