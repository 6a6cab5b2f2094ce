"""A small 2-D rigid-disc simulation for synthetic CLEVRER videos.

Objects slide on a plane seen from above by a 480x320 camera. Every object is a disc for contact
purposes (cubes and cylinders included), with a mass set by its material. Motion has constant
sliding friction (a fixed deceleration); contacts are resolved as elastic collisions between
discs, with the pair pushed apart. Units are pixels and frames.

Conventions (tests rely on them):
- ``positions[f]`` is the state at frame ``f`` (time ``t = f``); the step from ``f`` to ``f + 1``
  runs ``substeps`` sub-steps.
- A collision is recorded once per contact, at the first frame whose state follows the first
  overlapping sub-step, i.e. ``frame = ceil(t_contact)``.
- ``visible[f, i]`` is True when at least half the disc's radius reaches into the camera view
  (the renderer draws exactly the visible objects; a detector would miss thinner slivers).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

VIEW_W, VIEW_H = 480, 320
MASS = {"metal": 2.0, "rubber": 1.0}


@dataclass
class Body:
    radius: float
    mass: float
    pos: tuple[float, float]
    vel: tuple[float, float]


@dataclass
class SimResult:
    positions: np.ndarray            # [T, n, 2]
    velocities: np.ndarray           # [T, n, 2]
    visible: np.ndarray              # [T, n] bool
    collisions: list = field(default_factory=list)  # [{"frame": f, "objects": [i, j]}], i < j


def simulate(bodies: list[Body], n_frames: int, friction: float = 0.04, substeps: int = 4,
             active: list[bool] | None = None) -> SimResult:
    """Integrates the bodies for ``n_frames`` frames. ``active[i] = False`` removes body ``i``
    (counterfactual runs): it never moves, collides or becomes visible."""
    n = len(bodies)
    act = np.array(active if active is not None else [True] * n, dtype=bool)
    pos = np.array([b.pos for b in bodies], dtype=np.float64).reshape(n, 2)
    vel = np.array([b.vel for b in bodies], dtype=np.float64).reshape(n, 2)
    rad = np.array([b.radius for b in bodies], dtype=np.float64)
    mass = np.array([b.mass for b in bodies], dtype=np.float64)
    vel[~act] = 0.0

    positions = np.zeros((n_frames, n, 2))
    velocities = np.zeros((n_frames, n, 2))
    collisions: list[dict] = []
    touching: set[tuple[int, int]] = set()
    last_hit: dict[tuple[int, int], int] = {}  # one event per contact, even if it chatters
    dt = 1.0 / substeps
    decel = friction * dt

    for f in range(n_frames):
        positions[f], velocities[f] = pos, vel
        if f == n_frames - 1:
            break
        for _ in range(substeps):
            # friction: reduce the speed by a constant amount, stopping at zero
            speed = np.linalg.norm(vel, axis=1)
            moving = speed > 1e-12
            scale = np.where(moving, np.maximum(speed - decel, 0.0) / np.where(moving, speed, 1.0), 0.0)
            vel = vel * scale[:, None]
            pos = pos + vel * dt
            now: set[tuple[int, int]] = set()
            for i in range(n):
                if not act[i]:
                    continue
                for j in range(i + 1, n):
                    if not act[j]:
                        continue
                    d = pos[j] - pos[i]
                    dist = math.hypot(d[0], d[1])
                    overlap = rad[i] + rad[j] - dist
                    if overlap <= 0:
                        continue
                    now.add((i, j))
                    nrm = d / dist if dist > 1e-9 else np.array([1.0, 0.0])
                    rel = float(np.dot(vel[j] - vel[i], nrm))
                    if rel < 0:  # approaching: elastic impulse
                        imp = 2.0 * rel / (1.0 / mass[i] + 1.0 / mass[j])
                        vel[i] = vel[i] + imp / mass[i] * nrm
                        vel[j] = vel[j] - imp / mass[j] * nrm
                    # separate the discs in proportion to inverse mass
                    w_i = (1.0 / mass[i]) / (1.0 / mass[i] + 1.0 / mass[j])
                    pos[i] = pos[i] - nrm * overlap * w_i
                    pos[j] = pos[j] + nrm * overlap * (1.0 - w_i)
                    if (i, j) not in touching and last_hit.get((i, j), -99) < f - 2:
                        collisions.append({"frame": f + 1, "objects": [i, j]})
                        last_hit[(i, j)] = f + 1
            touching = now

    m = 0.5 * rad[None, :]
    visible = ((positions[..., 0] >= -m) & (positions[..., 0] < VIEW_W + m) &
               (positions[..., 1] >= -m) & (positions[..., 1] < VIEW_H + m) & act[None, :])
    return SimResult(positions, velocities, visible, collisions)
