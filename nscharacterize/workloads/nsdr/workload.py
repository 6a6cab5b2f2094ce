"""NS-DR on synthetic CLEVRER: frames -> Mask R-CNN -> trajectories -> PropNet -> JSON -> executor.

One sample is one video. Components, in the order NS-DR runs them:
``frame_parser`` (Mask R-CNN R50-FPN per sampled frame, neural: ``frames`` runs, the paper's 25;
``parse_all_frames`` parses every video frame as the released pipeline does, frames x frame_stride), ``trajectories`` (identity filtering and
24x24 crops, NS-DR's dynamics preprocessing), ``dynamics_predictor`` (convolutional PropNet:
factual plus one counterfactual rollout per object, each observed step with 3 frames of history
plus 12 extrapolated steps; writes ``propnet_preds/sim_%05d.json``) and ``executor`` (pure-Python
simulation and postfix stack machine; loads the predictions and program JSON for its video and
answers every question; profiled with cProfile).
"""
from __future__ import annotations


import numpy as np
from pydantic import Field

from ..base import Component, Workload, WorkloadError
from ..parsers.params import MaskRCNNParams


class NSDRParams(MaskRCNNParams):
    frames: int = Field(25, ge=3, le=200, description="observed frames per video parsed by Mask R-CNN and rolled "
                        "out by PropNet (25; NS-DR's 128-frame videos sampled every 5th give 26)")
    frame_stride: int = Field(5, ge=1, le=20, description="video frames between parsed frames (NS-DR frame_offset 5)")
    min_objects: int = Field(3, ge=2, le=8, description="fewest objects per video")
    max_objects: int = Field(5, ge=2, le=8, description="most objects per video (colours are unique, so at most 8)")
    pstep: int = Field(2, ge=1, le=8, description="PropNet propagation steps (NS-DR: 2)")
    nf_particle: int = Field(128, ge=8, description="particle encoder width (conv stack nf, 2nf, 3nf)")
    nf_relation: int = Field(128, ge=8, description="relation encoder width (conv stack nf, 2nf, 3nf)")
    nf_effect: int = Field(512, ge=8, description="effect width (NS-DR: 512)")
    extra_steps: int = Field(12, ge=0, le=12, description="steps extrapolated past the observed frames (NS-DR: 12)")
    parse_all_frames: bool = Field(False, description="run the frame parser on every video frame (frames x "
                                   "frame_stride), as the released NS-DR derenders all 128 frames, instead of "
                                   "the sampled frames only (the paper counts 25 parser runs per video); the "
                                   "dynamics model still takes every frame_stride-th frame")
    data_dir: str | None = Field(None, description="where the synthetic CLEVRER lives (default: "
                                 "data/clevrer-synth-<seed> under the working directory), one subfolder per "
                                 "generator setting; generated if missing")


def proposals_from_masks(sample, detector=None, parse_all_frames: bool = False) -> dict:
    """The derender proposals of one video: per sampled frame, the objects with their identity
    (colour, material, shape) and full-resolution mask. With ``detector`` (the Mask R-CNN frame
    parser) every sampled frame is parsed with the detection count driven by the objects in view;
    the identities and masks come from the synthetic ground truth (random weights cannot label
    them). With ``parse_all_frames`` the detector also runs on every frame between the sampled ones
    (the released pipeline derenders all frames; only the sampled ones reach the dynamics model)."""
    props = sample.annotation["object_property"]
    scores_by_frame: dict = {}
    if detector is not None and parse_all_frames:
        if sample.all_frames is None:
            raise WorkloadError("nsdr: parse_all_frames needs a dataset rendered with every frame")
        for f in range(sample.all_frames.shape[0]):
            n_objects = int(np.count_nonzero(np.unique(sample.all_masks[f])))
            out = detector(np.array(sample.all_frames[f]), n_objects=n_objects)
            scores_by_frame[f] = out["scores"].tolist()
    frames = []
    for k, f in enumerate(sample.frame_indices):
        labels = sample.masks[k]
        present = [int(i) for i in np.unique(labels) if i > 0]
        scores: list = []
        if detector is not None:
            scores = scores_by_frame[f] if parse_all_frames else \
                detector(np.array(sample.frames[k]), n_objects=len(present))["scores"].tolist()
        objs = []
        for j, i in enumerate(present):
            o = props[i - 1]
            objs.append({"color": o["color"], "material": o["material"], "shape": o["shape"],
                         "mask": labels == i, "score": scores[j] if j < len(scores) else 1.0})
        frames.append({"frame_index": f, "objects": objs})
    return {"sample": sample, "frames": frames}


def build_nsdr(p: NSDRParams, seed: int) -> Workload:
    import torch

    from .clevrer.dataset import default_data_dir, ensure_dataset, load_video, variant_dir
    from .clevrer.videos import GenConfig
    from .dynamics import ConvPropNet, Rollout, build_tracks, write_predictions
    from .executor import answer_video

    if p.min_objects > p.max_objects:
        raise WorkloadError(f"nsdr: min_objects ({p.min_objects}) is larger than max_objects ({p.max_objects})")
    cfg = GenConfig(frames=p.frames, frame_stride=p.frame_stride, min_objects=p.min_objects,
                    max_objects=p.max_objects, all_frames=p.parse_all_frames)
    data_dir = variant_dir(p.data_dir or default_data_dir(seed), seed, cfg)
    parser = p.build_parser(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ConvPropNet(p.nf_particle, p.nf_relation, p.nf_effect).eval()
    rollout = Rollout(model, pstep=p.pstep, extra_steps=p.extra_steps)
    n_vis = p.frames * p.frame_stride
    end_frame = (p.frames - 1) * p.frame_stride

    def make_samples(n: int) -> list:
        ids = ensure_dataset(data_dir, n, seed, cfg)
        return [load_video(data_dir, vid, cfg) for vid in ids]

    def frame_parser(sample):
        return proposals_from_masks(sample, detector=parser, parse_all_frames=p.parse_all_frames)

    def trajectories(proposals):
        return build_tracks(proposals)

    def dynamics_predictor(tracks):
        pred = rollout.run(tracks)
        sample = tracks["sample"]
        return {"predictions": write_predictions(pred, sample.predictions_path), "programs": sample.programs_path}

    def executor(paths):
        return answer_video(paths["predictions"], paths["programs"], n_vis_frames=n_vis, end_frame=end_frame)

    def to_device(device: str) -> None:
        parser.to(device)
        model.to(device)
        rollout.device = device

    return Workload(
        name="nsdr",
        components=[Component("frame_parser", frame_parser, kind="neural", profiler="torch"),
                    Component("trajectories", trajectories, kind="neural", profiler="torch"),
                    Component("dynamics_predictor", dynamics_predictor, kind="neural", profiler="torch"),
                    Component("executor", executor, kind="symbolic", profiler="cprofile")],
        make_samples=make_samples, to_device=to_device,
        info={"data_dir": data_dir, "frames": p.frames, "frame_stride": p.frame_stride,
              "parser_runs_per_video": n_vis if p.parse_all_frames else p.frames,
              "frame_parser": p.parser_info(parser),
              "propnet_parameters": sum(t.numel() for t in model.parameters())})
