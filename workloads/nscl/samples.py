"""NSCL's samples from a CLEVR-layout dataset: images, scene boxes and questions with programs.

One sample is one image with up to ``questions_per_image`` questions; each question carries its
tokens (question parser input), its CLEVR program's tokens (decoding length) and its NSCL program
(executor input). Questions outside NSCL's op set are skipped.
"""
from __future__ import annotations

import numpy as np

from ..base import WorkloadError
from ..clevr_common.dataset import Paths, estimate_bbox, read_image, read_questions, read_scenes
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
                        "scene_boxes": np.asarray(boxes, dtype=np.float32), "questions": qs})
    return samples
