"""CLEVRER videos in memory: generator settings, scene sampling, factual and counterfactual runs.

A video is deterministic from ``(seed, video_id)``: 3-6 objects with unique colours, the resting
ones placed inside the view and the others entering from outside, aimed at them; then one
physics run as observed and one more per removed object (the counterfactuals).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...clevr_common.attributes import CLEVRER_COLORS, CLEVRER_MATERIALS, CLEVRER_SHAPES
from .physics import MASS, VIEW_H, VIEW_W, Body, simulate

RADIUS = {"sphere": 20.0, "cylinder": 21.0, "cube": 22.0}
EXTRA_STEPS = 12          # NS-DR extrapolates 12 steps past the observed frames


@dataclass(frozen=True)
class GenConfig:
    frames: int = 25            # observed (rendered) frames
    frame_stride: int = 5       # physics frames between sampled frames (NS-DR frame_offset)
    min_objects: int = 3
    max_objects: int = 5
    descriptive: int = 11       # questions per video, CLEVRER proportions
    explanatory: int = 2
    predictive: int = 1
    counterfactual: int = 2
    all_frames: bool = False    # also render every video frame between the sampled ones (parse_all_frames)

    @property
    def steps(self) -> int:
        return self.frames + EXTRA_STEPS

    @property
    def n_vis_frames(self) -> int:
        return self.frames * self.frame_stride


# ---------------------------------------------------------------------------------------- scenes
def _sample_scene(rng: np.random.Generator, cfg: GenConfig) -> tuple[list[dict], list[Body]]:
    n = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    colors = rng.choice(len(CLEVRER_COLORS), size=n, replace=False)
    objects, bodies = [], []
    placed: list[tuple[float, float, float]] = []
    n_static = max(1, n // 2)
    duration = cfg.n_vis_frames
    for i in range(n):
        shape = CLEVRER_SHAPES[int(rng.integers(3))]
        material = CLEVRER_MATERIALS[int(rng.integers(2))]
        r = RADIUS[shape]
        objects.append({"object_id": i, "color": CLEVRER_COLORS[int(colors[i])], "material": material, "shape": shape})
        if i < n_static:
            for _ in range(100):  # a free spot inside the view
                x, y = rng.uniform(60, VIEW_W - 60), rng.uniform(50, VIEW_H - 50)
                if all(np.hypot(x - px, y - py) > r + pr + 10 for px, py, pr in placed):
                    break
            placed.append((x, y, r))
            bodies.append(Body(r, MASS[material], (x, y), (0.0, 0.0)))
        else:
            # enter from outside the view, aimed at a resting object (or a point in the view)
            if rng.random() < 0.8:
                tx, ty, _ = placed[int(rng.integers(len(placed)))]
            else:
                tx, ty = rng.uniform(100, VIEW_W - 100), rng.uniform(80, VIEW_H - 80)
            side = int(rng.integers(4))
            margin = rng.uniform(25, 25 + 0.15 * duration)
            if side == 0:
                sx, sy = -margin, rng.uniform(0, VIEW_H)
            elif side == 1:
                sx, sy = VIEW_W + margin, rng.uniform(0, VIEW_H)
            elif side == 2:
                sx, sy = rng.uniform(0, VIEW_W), -margin
            else:
                sx, sy = rng.uniform(0, VIEW_W), VIEW_H + margin
            d = np.array([tx - sx, ty - sy])
            dist = float(np.linalg.norm(d))
            speed = rng.uniform(3.0, 5.0) * max(1.0, dist / 300.0)
            v = d / dist * speed
            bodies.append(Body(r, MASS[material], (sx, sy), (float(v[0]), float(v[1]))))
    return objects, bodies


@dataclass
class Video:
    """One generated video, in memory (numpy) form."""

    video_id: int
    cfg: GenConfig
    objects: list                 # object_property
    positions: np.ndarray         # [T, n, 2] physics frames (factual)
    velocities: np.ndarray        # [T, n, 2]
    visible: np.ndarray           # [T, n]
    collisions: list              # [{"frame", "objects"}] raw physics frames
    cf: dict                      # removed id -> {"positions", "visible", "collisions"}

    @property
    def n_objects(self) -> int:
        return len(self.objects)

    def step_frames(self) -> list[int]:
        return [k * self.cfg.frame_stride for k in range(self.cfg.steps)]


def generate_video(seed: int, video_id: int, cfg: GenConfig) -> Video:
    """Simulates one video (factual plus one counterfactual run per object), deterministically."""
    rng = np.random.default_rng([seed, video_id])
    n_frames = cfg.steps * cfg.frame_stride
    best = None
    for _attempt in range(12):  # prefer scenes with a collision inside the observed window
        objects, bodies = _sample_scene(rng, cfg)
        res = simulate(bodies, n_frames)
        best = (objects, bodies, res)
        if any(c["frame"] < cfg.n_vis_frames for c in res.collisions):
            break
    objects, bodies, res = best
    cf = {}
    for k in range(len(bodies)):
        active = [i != k for i in range(len(bodies))]
        r = simulate(bodies, n_frames, active=active)
        cf[k] = {"positions": r.positions, "visible": r.visible, "collisions": r.collisions}
    return Video(video_id, cfg, objects, res.positions, res.velocities, res.visible, res.collisions, cf)
