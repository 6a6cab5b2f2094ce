"""The synthetic CLEVR dataset on disk, in the CLEVR v1.0 layout (so real CLEVR reads the same):

    <data_dir>/scenes/CLEVR_<split>_scenes.json        {"info": ..., "scenes": [...]}
    <data_dir>/questions/CLEVR_<split>_questions.json  {"info": ..., "questions": [...]}
    <data_dir>/images/<split>/CLEVR_<split>_000000.png

Every file is written atomically; the scenes file is written last and marks a complete dataset.
A model turns what it reads here into its own samples (NSCL: nscharacterize/workloads/nscl/samples.py).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .files import write_json, write_png
from .questions import make_questions
from .scene_image import render
from .scenes import HEIGHT, WIDTH, make_scene

GENERATOR = "nscharacterize-clevr-synth"
VERSION = 1


@dataclass(frozen=True)
class Paths:
    """Where a split's files lie under a CLEVR-layout root."""

    root: Path
    split: str

    @property
    def scenes(self) -> Path:
        return self.root / "scenes" / f"CLEVR_{self.split}_scenes.json"

    @property
    def questions(self) -> Path:
        return self.root / "questions" / f"CLEVR_{self.split}_questions.json"

    def image(self, filename: str) -> Path:
        return self.root / "images" / self.split / filename


def _info(seed: int, questions_per_image: int, min_objects: int, max_objects: int) -> dict:
    return {"generator": GENERATOR, "version": VERSION, "seed": seed, "questions_per_image": questions_per_image,
            "min_objects": min_objects, "max_objects": max_objects}


def generate(data_dir: str | os.PathLike, seed: int, images: int, questions_per_image: int,
             split: str = "val", min_objects: int = 3, max_objects: int = 10) -> Paths:
    """Writes ``images`` synthetic scenes (JSON, PNG) and their questions in the CLEVR layout."""
    paths = Paths(Path(data_dir), split)
    for d in (paths.scenes.parent, paths.questions.parent, paths.image("x").parent):
        d.mkdir(parents=True, exist_ok=True)
    info = {**_info(seed, questions_per_image, min_objects, max_objects), "split": split}
    scenes, questions = [], []
    for i in range(images):
        scene = make_scene(seed, i, min_objects, max_objects, split)
        write_png(paths.image(scene["image_filename"]), render(scene))
        scenes.append(scene)
        questions.extend(make_questions(scene, seed, questions_per_image))
    for k, q in enumerate(questions):
        q["question_index"] = k
    write_json(paths.questions, {"info": info, "questions": questions})
    write_json(paths.scenes, {"info": info, "scenes": scenes})      # written last: marks completion
    return paths


def ensure(data_dir: str | os.PathLike, seed: int, images: int, questions_per_image: int, split: str = "val",
           min_objects: int = 3, max_objects: int = 10) -> Paths:
    """Reuses ``data_dir`` when it holds enough matching data (synthetic or real CLEVR), else generates."""
    paths = Paths(Path(data_dir), split)
    if paths.scenes.exists() and paths.questions.exists():
        info = json.loads(paths.scenes.read_text()).get("info", {})
        if info.get("generator") != GENERATOR:
            return paths                                     # real CLEVR (or another generator): use as is
        want = _info(seed, questions_per_image, min_objects, max_objects)
        have = {k: info.get(k) for k in want}
        n = len(json.loads(paths.scenes.read_text())["scenes"])
        if have == want and n >= images:
            return paths
    return generate(data_dir, seed, images, questions_per_image, split, min_objects, max_objects)


def estimate_bbox(obj: dict) -> list[float]:
    """A box for a real CLEVR object from its pixel_coords and size (CLEVR scenes carry no boxes)."""
    u, v, depth = obj["pixel_coords"]
    r = (0.7 if obj.get("size") == "large" else 0.35) * 450.0 / max(float(depth), 1.0)
    return [max(0.0, u - r), max(0.0, v - r), min(WIDTH - 1.0, u + r), min(HEIGHT - 1.0, v + r)]



def read_scenes(paths: Paths) -> list[dict]:
    """The split's scene annotations, in file order."""
    return json.loads(paths.scenes.read_text())["scenes"]


def read_questions(paths: Paths) -> list[dict]:
    """The split's questions (CLEVR programs, answers), in file order."""
    return json.loads(paths.questions.read_text())["questions"]


def read_image(paths: Paths, filename: str) -> np.ndarray:
    """One image of the split as uint8 RGB [H, W, 3]."""
    from PIL import Image

    return np.array(Image.open(paths.image(filename)).convert("RGB"), dtype=np.uint8)
