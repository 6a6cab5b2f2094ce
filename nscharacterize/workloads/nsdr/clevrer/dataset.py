"""The synthetic CLEVRER dataset on disk (layout in the package docstring): generate, reuse, read.

Every JSON and PNG file is written atomically (clevr_common.files); ``validation.json`` and
``meta.json`` are written last and mark a complete dataset.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from ...clevr_common.files import write_json, write_png
from .annotations import gt_predictions
from .questions import make_questions
from .frame_image import render_frame
from .videos import GenConfig, Video, generate_video

FIRST_VIDEO_ID = 10000    # CLEVRER validation ids start at 10000
GENERATOR_VERSION = 4


def default_data_dir(seed: int) -> str:
    return os.path.join("data", f"clevrer-synth-{seed}")


def variant_dir(root: str, seed: int, cfg: GenConfig) -> str:
    """One folder per generator setting under ``root``, so that runs with different settings
    (or a test beside a run) never regenerate each other's files."""
    return os.path.join(root, f"seed{seed}-frames{cfg.frames}-stride{cfg.frame_stride}-"
                              f"objects{cfg.min_objects}-{cfg.max_objects}" + ("-allframes" if cfg.all_frames else ""))


def _paths(data_dir: str, vid: int) -> dict:
    return {"video": os.path.join(data_dir, "video_validation", f"video_{vid:05d}"),
            "annotation": os.path.join(data_dir, "annotation_validation", f"annotation_{vid:05d}.json"),
            "programs": os.path.join(data_dir, "parsed_programs", f"programs_{vid:05d}.json"),
            "predictions": os.path.join(data_dir, "propnet_preds", f"sim_{vid:05d}.json")}


def ensure_dataset(data_dir: str, n_videos: int, seed: int, cfg: GenConfig) -> list[int]:
    """Generates videos ``10000 .. 10000 + n_videos - 1`` under ``data_dir`` unless already there
    with the same settings; returns their ids."""
    meta = {"generator_version": GENERATOR_VERSION, "seed": seed, **asdict(cfg)}
    meta_path = os.path.join(data_dir, "meta.json")
    ids = list(range(FIRST_VIDEO_ID, FIRST_VIDEO_ID + n_videos))
    old = None
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            old = json.load(f)
    if old != meta:
        for sub in ("video_validation", "annotation_validation", "parsed_programs", "propnet_preds"):
            shutil.rmtree(os.path.join(data_dir, sub), ignore_errors=True)
        if os.path.exists(os.path.join(data_dir, "validation.json")):
            os.remove(os.path.join(data_dir, "validation.json"))
    val_path = os.path.join(data_dir, "validation.json")
    validation = []
    if old == meta and os.path.exists(val_path):
        with open(val_path) as f:
            validation = json.load(f)
    have = {v["scene_index"] for v in validation}
    missing = [v for v in ids if v not in have or not os.path.exists(_paths(data_dir, v)["programs"])]
    if not missing:
        return ids
    for sub in ("video_validation", "annotation_validation", "parsed_programs", "propnet_preds"):
        os.makedirs(os.path.join(data_dir, sub), exist_ok=True)
    validation = [v for v in validation if v["scene_index"] not in missing]
    for vid in missing:
        validation.append(write_video(data_dir, generate_video(seed, vid, cfg), seed))
    validation.sort(key=lambda v: v["scene_index"])
    write_json(val_path, validation)
    write_json(meta_path, meta)
    return ids


def write_video(data_dir: str, video: Video, seed: int) -> dict:
    """Writes one video's frames, masks, annotation and programs; returns its validation.json entry."""
    p = _paths(data_dir, video.video_id)
    for d in (p["video"], os.path.dirname(p["annotation"]), os.path.dirname(p["programs"])):
        os.makedirs(d, exist_ok=True)
    rendered = []
    for f in video.step_frames()[:video.cfg.frames]:
        img, mask = render_frame(video, f)
        for arr, name in ((img, f"frame_{f:05d}.png"), (mask, f"mask_{f:05d}.png")):
            write_png(os.path.join(p["video"], name), arr)
        boxes = []
        for i in range(video.n_objects):
            ys, xs = np.nonzero(mask == i + 1)
            if len(xs):
                boxes.append({"object_id": i, "bbox": [int(xs.min()), int(ys.min()), int(xs.max()) + 1,
                                                       int(ys.max()) + 1], "pixels": int(len(xs))})
        rendered.append({"frame_id": f, "frame_filename": f"video_{video.video_id:05d}/frame_{f:05d}.png",
                         "mask_filename": f"video_{video.video_id:05d}/mask_{f:05d}.png", "objects": boxes})
    if video.cfg.all_frames:                  # the frames between the sampled ones, for parse_all_frames
        sampled = set(video.step_frames()[:video.cfg.frames])
        for f in range(video.cfg.n_vis_frames):
            if f not in sampled:
                img, mask = render_frame(video, f)
                write_png(os.path.join(p["video"], f"frame_{f:05d}.png"), img)
                write_png(os.path.join(p["video"], f"mask_{f:05d}.png"), mask)
    sim_pred = gt_predictions(video)
    questions, programs = make_questions(video, sim_pred, seed)
    ann = {"scene_index": video.video_id, "video_filename": f"video_{video.video_id:05d}.mp4",
           "frame_stride": video.cfg.frame_stride, "object_property": video.objects,
           "rendered_frames": rendered,  # per rendered frame: object boxes (xyxy) from the masks
           "motion_trajectory": [{"frame_id": f, "objects": [
               {"object_id": i, "location": [round(float(video.positions[f, i, 0]), 3),
                                             round(float(video.positions[f, i, 1]), 3)],
                "velocity": [round(float(video.velocities[f, i, 0]), 4), round(float(video.velocities[f, i, 1]), 4)],
                "inside_camera_view": bool(video.visible[f, i])} for i in range(video.n_objects)]}
               for f in range(video.positions.shape[0])],
           "collision": [{"object_ids": c["objects"], "frame_id": c["frame"]} for c in video.collisions],
           "counterfactual": {str(k): {
               "collision": [{"object_ids": c["objects"], "frame_id": c["frame"]} for c in cf["collisions"]],
               "steps": [{"frame_id": f, "objects": [
                   {"object_id": i, "location": [round(float(cf["positions"][f, i, 0]), 3),
                                                 round(float(cf["positions"][f, i, 1]), 3)]}
                   for i in range(video.n_objects) if cf["visible"][f, i]]} for f in video.step_frames()]}
               for k, cf in video.cf.items()}}
    write_json(p["annotation"], ann)
    write_json(p["programs"], {"scene_index": video.video_id, "questions": programs})
    return {"scene_index": video.video_id, "video_filename": ann["video_filename"], "questions": questions}


@dataclass(frozen=True)
class VideoSample:
    """One video as the pipeline's first stage sees it (arrays are read-only by convention)."""

    video_id: int
    data_dir: str
    frame_indices: tuple             # physics frame of each rendered frame
    frames: np.ndarray               # [k, 320, 480, 3] uint8
    masks: np.ndarray                # [k, 320, 480] uint8, object id + 1
    annotation: dict                 # annotation_%05d.json content
    n_steps: int                     # observed + extrapolated steps
    frame_stride: int
    all_frames: Optional[np.ndarray] = None   # [n_vis, 320, 480, 3]: every video frame (all_frames data)
    all_masks: Optional[np.ndarray] = None    # [n_vis, 320, 480]

    @property
    def predictions_path(self) -> str:
        return _paths(self.data_dir, self.video_id)["predictions"]

    @property
    def programs_path(self) -> str:
        return _paths(self.data_dir, self.video_id)["programs"]


def load_video(data_dir: str, vid: int, cfg: GenConfig) -> VideoSample:
    """Reads one generated video's rendered frames, masks and annotation."""
    from PIL import Image

    p = _paths(data_dir, vid)
    idx = tuple(k * cfg.frame_stride for k in range(cfg.frames))
    frames = np.stack([np.asarray(Image.open(os.path.join(p["video"], f"frame_{f:05d}.png")).convert("RGB"))
                       for f in idx])
    masks = np.stack([np.asarray(Image.open(os.path.join(p["video"], f"mask_{f:05d}.png"))) for f in idx])
    frames.setflags(write=False)
    masks.setflags(write=False)
    all_frames = all_masks = None
    if cfg.all_frames:
        every = range(cfg.n_vis_frames)
        all_frames = np.stack([np.asarray(Image.open(os.path.join(p["video"], f"frame_{f:05d}.png")).convert("RGB"))
                               for f in every])
        all_masks = np.stack([np.asarray(Image.open(os.path.join(p["video"], f"mask_{f:05d}.png"))) for f in every])
        all_frames.setflags(write=False)
        all_masks.setflags(write=False)
    with open(p["annotation"]) as f:
        ann = json.load(f)
    return VideoSample(vid, data_dir, idx, frames, masks, ann, cfg.steps, cfg.frame_stride, all_frames, all_masks)
