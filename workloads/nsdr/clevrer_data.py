"""Synthetic CLEVRER: deterministic videos, annotations and questions with postfix programs.

Everything is generated locally from ``(seed, video_id)``: a scene of 3-6 objects (unique colours,
CLEVRER's colour/material/shape vocabulary), a 2-D physics run (objects entering from outside the
view, sliding with friction and colliding elastically, see :mod:`.physics`), one counterfactual
re-run per removed object, 480x320 rendered frames with per-object mask images, and questions of
the four CLEVRER types with postfix programs over the NS-DR executor's 33 modules.

Layout under ``data_dir`` (CLEVRER's names where it has them; the workload puts each generator
setting in its own folder, ``<root>/seed0-frames25-stride5-objects3-5``, see :func:`variant_dir`)::

    meta.json                                    generator settings (regenerated on mismatch)
    validation.json                              questions, CLEVRER style, with answers
    video_validation/video_10000/frame_00005.png rendered frames (only the sampled ones)
    video_validation/video_10000/mask_00005.png  per-frame object masks (pixel = object id + 1)
    annotation_validation/annotation_10000.json  object_property, motion_trajectory, collision,
                                                 rendered_frames (per-frame boxes), counterfactual
                                                 trajectories and collisions
    parsed_programs/programs_10000.json          postfix programs per question (executor input)
    propnet_preds/sim_10000.json                 written by the dynamics predictor at run time

Frames are sampled every ``frame_stride`` physics frames: ``frames`` observed (rendered) frames,
then 12 more steps simulated (not rendered) that the dynamics rollout extrapolates into.
Answers are what the NS-DR executor returns on the ground-truth trajectories (templates whose
program errors on a scene are not used), so an executor fed perfect predictions scores 100%.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass

import numpy as np

from .physics import MASS, VIEW_H, VIEW_W, Body, simulate

COLORS = ["gray", "red", "blue", "green", "brown", "yellow", "cyan", "purple"]
MATERIALS = ["metal", "rubber"]
SHAPES = ["sphere", "cylinder", "cube"]
RGB = {"gray": (87, 87, 87), "red": (173, 35, 35), "blue": (42, 75, 215), "green": (29, 105, 20),
       "brown": (129, 74, 25), "yellow": (255, 238, 51), "cyan": (41, 208, 208), "purple": (129, 38, 192)}
RADIUS = {"sphere": 20.0, "cylinder": 21.0, "cube": 22.0}
EXTRA_STEPS = 12          # NS-DR extrapolates 12 steps past the observed frames
FIRST_VIDEO_ID = 10000    # CLEVRER validation ids start at 10000
GENERATOR_VERSION = 4


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

    @property
    def steps(self) -> int:
        return self.frames + EXTRA_STEPS

    @property
    def n_vis_frames(self) -> int:
        return self.frames * self.frame_stride


# ---------------------------------------------------------------------------------------- scenes
def _sample_scene(rng: np.random.Generator, cfg: GenConfig) -> tuple[list[dict], list[Body]]:
    n = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    colors = rng.choice(len(COLORS), size=n, replace=False)
    objects, bodies = [], []
    placed: list[tuple[float, float, float]] = []
    n_static = max(1, n // 2)
    duration = cfg.n_vis_frames
    for i in range(n):
        shape = SHAPES[int(rng.integers(3))]
        material = MATERIALS[int(rng.integers(2))]
        r = RADIUS[shape]
        objects.append({"object_id": i, "color": COLORS[int(colors[i])], "material": material, "shape": shape})
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


# ------------------------------------------------------------------------------------- rendering
def render_frame(video: Video, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Renders physics frame ``frame``: uint8 image [320, 480, 3] and mask [320, 480] (id + 1)."""
    yy, xx = np.mgrid[0:VIEW_H, 0:VIEW_W].astype(np.float32)
    img = np.empty((VIEW_H, VIEW_W, 3), dtype=np.float32)
    shade = 0.85 + 0.15 * (yy / VIEW_H)               # a lit floor, darker at the back
    img[...] = (np.array([170.0, 170.0, 165.0]) * shade[..., None])
    mask = np.zeros((VIEW_H, VIEW_W), dtype=np.uint8)
    order = np.argsort(video.positions[frame, :, 1])  # back to front
    for i in order:
        if not video.visible[frame, i]:
            continue
        x, y = video.positions[frame, i]
        obj = video.objects[i]
        r = RADIUS[obj["shape"]]
        x0, x1 = int(max(0, np.floor(x - r - 1))), int(min(VIEW_W, np.ceil(x + r + 1)))
        y0, y1 = int(max(0, np.floor(y - r - 1))), int(min(VIEW_H, np.ceil(y + r + 1)))
        if x0 >= x1 or y0 >= y1:
            continue
        dx, dy = xx[y0:y1, x0:x1] - x, yy[y0:y1, x0:x1] - y
        if obj["shape"] == "cube":
            inside = (np.abs(dx) <= 0.85 * r) & (np.abs(dy) <= 0.85 * r)
            light = 1.0 - 0.25 * (dx + dy) / (2 * r)
        else:
            d2 = dx * dx + dy * dy
            inside = d2 <= r * r
            if obj["shape"] == "sphere":
                light = 1.15 - 0.6 * np.sqrt(np.clip(((dx + 0.4 * r) ** 2 + (dy + 0.4 * r) ** 2), 0, None)) / (2 * r)
            else:  # cylinder, seen from above: a flat top with a darker rim
                light = np.where(d2 > (0.75 * r) ** 2, 0.7, 1.0)
        if obj["material"] == "metal":  # a specular highlight
            light = light + 0.6 * np.exp(-((dx + 0.3 * r) ** 2 + (dy + 0.3 * r) ** 2) / (0.08 * r * r))
        color = np.array(RGB[obj["color"]], dtype=np.float32)
        patch = img[y0:y1, x0:x1]
        patch[inside] = np.clip(color[None, :] * light[inside][:, None], 0, 255)
        mask[y0:y1, x0:x1][inside] = i + 1
    return img.astype(np.uint8), mask


# ------------------------------------------------------------------------- ground-truth to JSON
def quantize(frame: int, stride: int) -> int:
    """The sampled step a physics frame falls in (NS-DR attaches an event to step i when
    0 <= frame - i * stride < stride)."""
    return (frame // stride) * stride


def gt_predictions(video: Video) -> dict:
    """The ``sim_%05d.json`` content that a perfect dynamics predictor would write.

    Positions follow NS-DR's convention: ``x`` is the image row (down), ``y`` the column (right),
    in 480x320 pixels; ``query_direction``'s left/right/up/down rely on it."""
    cfg = video.cfg
    out = {"objects": [{"id": o["object_id"], "color": o["color"], "material": o["material"],
                        "shape": o["shape"]} for o in video.objects], "predictions": []}
    runs = [(-1, video.positions, video.visible, video.collisions)]
    runs += [(k, c["positions"], c["visible"], c["collisions"]) for k, c in video.cf.items()]
    for what_if, pos, vis, cols in runs:
        traj = []
        for f in video.step_frames():
            objs = [dict(x=float(pos[f, i, 1]), y=float(pos[f, i, 0]), **_attrs(video, i))
                    for i in range(video.n_objects) if vis[f, i]]
            traj.append({"frame_index": f, "objects": objs})
        col = [{"frame": quantize(c["frame"], cfg.frame_stride),
                "objects": [_attrs(video, c["objects"][0]), _attrs(video, c["objects"][1])]}
               for c in cols if c["frame"] < cfg.steps * cfg.frame_stride]
        out["predictions"].append({"what_if": what_if, "trajectory": traj, "collisions": col})
    return out


def _attrs(video: Video, i: int) -> dict:
    o = video.objects[i]
    return {"color": o["color"], "material": o["material"], "shape": o["shape"]}


# ------------------------------------------------------------------------------------- questions
def _ref(o: dict) -> tuple[str, list[str]]:
    """Words and program that pick one object (colours are unique within a scene)."""
    return (f"the {o['color']} {o['shape']}",
            ["objects", o["color"], "filter_color", o["shape"], "filter_shape", "unique"])


def _collision_event_prog(a: dict, b: dict, source: str = "events") -> list[str]:
    return ([source, "objects", a["color"], "filter_color", a["shape"], "filter_shape", "unique", "filter_collision",
             "objects", b["color"], "filter_color", b["shape"], "filter_shape", "unique", "filter_collision", "unique"])


def _descriptive(rng, objs: list[dict]) -> tuple[str, list[str]]:
    t = int(rng.integers(6))
    o = objs[int(rng.integers(len(objs)))]
    o2 = objs[int(rng.integers(len(objs)))]
    words, prog = _ref(o)
    if t == 0:
        return (f"What is the color of the {o['material']} {o['shape']} that enters the scene?",
                ["events", "objects", o["material"], "filter_material", o["shape"], "filter_shape", "unique",
                 "filter_in", "unique", "query_object", "query_color"])
    if t == 1:
        return (f"How many collisions involving {words} happen during the whole video?",
                ["events"] + prog + ["filter_collision", "count"])
    if t == 2:
        return (f"What is the shape of the object that collides with {words}?",
                ["events"] + prog + ["filter_collision", "unique"] + prog + ["query_collision_partner", "query_shape"])
    if t == 3:
        return ("How many objects are still moving when the video ends?",
                ["objects", "events", "filter_end", "query_frame", "filter_moving", "count"])
    if t == 4:
        shape = SHAPES[int(rng.integers(3))]
        w2, p2 = _ref(o2)
        return (f"Are there any stationary {shape}s when {w2} enters the scene?",
                ["objects", shape, "filter_shape", "events"] + p2 +
                ["filter_in", "unique", "query_frame", "filter_stationary", "exist"])
    return (f"What is the material of the first object to collide with {words}?",
            ["events"] + prog + ["filter_collision", "first", "filter_order"] + prog +
            ["query_collision_partner", "query_material"])


def _collision_choice(a: dict, b: dict, source: str) -> tuple[str, list[str]]:
    return f"The {a['color']} {a['shape']} collides with the {b['color']} {b['shape']}", \
        _collision_event_prog(a, b, source)


def _mc(rng, objs: list[dict], qtype: str, sim_pred: dict) -> tuple[str, list[str], list[tuple[str, list[str]]]]:
    pairs = [(a, b) for i, a in enumerate(objs) for b in objs[i + 1:]]
    choices: list[tuple[str, list[str]]] = []
    if qtype == "explanatory":
        cols = [c for c in sim_pred["predictions"][0]["collisions"]]
        a, b = (cols[int(rng.integers(len(cols)))]["objects"] if cols else (objs[0], objs[-1]))
        q = (f"Which of the following is responsible for the collision between the {a['color']} {a['shape']} "
             f"and the {b['color']} {b['shape']}?")
        qprog = ["events"] + _collision_event_prog(a, b) + ["filter_ancestor", "belong_to"]
        for _ in range(4):
            c = objs[int(rng.integers(len(objs)))]
            kind = int(rng.integers(3))
            if kind == 0:
                w, p = _ref(c)
                choices.append((f"The presence of {w} in the scene", p))
            elif kind == 1:
                w, p = _ref(c)
                choices.append((f"The {c['color']} {c['shape']} entering the scene from outside",
                                ["events"] + p + ["filter_in", "unique"]))
            else:
                x, y = pairs[int(rng.integers(len(pairs)))]
                choices.append((f"The collision between the {x['color']} {x['shape']} and the "
                                f"{y['color']} {y['shape']}", _collision_event_prog(x, y)))
        return q, qprog, choices
    picks = rng.permutation(len(pairs))[:4]
    for k in picks:
        x, y = pairs[int(k)]
        choices.append(_collision_choice(x, y, "all_events"))
    if qtype == "predictive":
        q = "Which of the following events will happen next, after the video ends, if nothing is changed?"
        return q, ["unseen_events", "belong_to"], choices
    removed = objs[int(rng.integers(len(objs)))]
    w, p = _ref(removed)
    if rng.random() < 0.5:
        q = f"Which of the following events will happen if {w} is removed from the scene before it starts?"
        return q, p + ["counterfact_events", "belong_to"], choices
    q = f"Which of the following events will not happen if {w} is removed from the scene before it starts?"
    return q, p + ["counterfact_events", "belong_to", "negate"], choices


def make_questions(video: Video, sim_pred: dict, seed: int) -> tuple[list[dict], list[dict]]:
    """Returns (questions in CLEVRER's validation.json form, parsed programs for the executor)."""
    from .executor import Executor, Simulation

    cfg = video.cfg
    sim = Simulation(sim_pred, n_vis_frames=cfg.n_vis_frames, end_frame=(cfg.frames - 1) * cfg.frame_stride)
    exe = Executor(sim)
    rng = np.random.default_rng([seed, video.video_id, 7])
    objs = video.objects
    questions, programs = [], []
    wanted = [("descriptive", cfg.descriptive), ("explanatory", cfg.explanatory),
              ("predictive", cfg.predictive), ("counterfactual", cfg.counterfactual)]
    for qtype, count in wanted:
        made = 0
        for _attempt in range(40 * max(count, 1)):
            if made >= count:
                break
            qid = len(questions)
            if qtype == "descriptive":
                text, prog = _descriptive(rng, objs)
                ans = exe.run(prog)
                if ans == "error":
                    continue
                questions.append({"question_id": qid, "question": text, "question_type": qtype,
                                  "answer": ans})
                programs.append({"question_id": qid, "question_type": qtype, "program": prog})
            else:
                text, qprog, choices = _mc(rng, objs, qtype, sim_pred)
                answers = [exe.run(p + qprog) for _, p in choices]
                if "error" in answers or len({t for t, _ in choices}) < len(choices):
                    continue
                mapped = ["correct" if a == "yes" else "wrong" for a in answers]
                questions.append({"question_id": qid, "question": text, "question_type": qtype,
                                  "choices": [{"choice_id": i, "choice": t, "answer": a}
                                              for i, ((t, _), a) in enumerate(zip(choices, mapped))]})
                programs.append({"question_id": qid, "question_type": qtype, "question_program": qprog,
                                 "choices": [{"choice_id": i, "program": p, "answer": a}
                                             for i, ((_, p), a) in enumerate(zip(choices, mapped))]})
            made += 1
    return questions, programs


def question_words(q: dict) -> int:
    """Words in a question as the paper counts them (multiple choice: question plus choices)."""
    n = len(q["question"].split())
    return n + sum(len(c["choice"].split()) for c in q.get("choices", []))


# ------------------------------------------------------------------------------------ on disk
def default_data_dir(seed: int) -> str:
    return os.path.join("data", f"clevrer-synth-{seed}")


def variant_dir(root: str, seed: int, cfg: GenConfig) -> str:
    """One folder per generator setting under ``root``, so that runs with different settings
    (or a test beside a run) never regenerate each other's files."""
    return os.path.join(root, f"seed{seed}-frames{cfg.frames}-stride{cfg.frame_stride}-"
                              f"objects{cfg.min_objects}-{cfg.max_objects}")


def atomic_json(path: str, obj) -> None:
    """Writes JSON through a temporary file and a rename: readers never see a partial file."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


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
    atomic_json(val_path, validation)
    atomic_json(meta_path, meta)
    return ids


def write_video(data_dir: str, video: Video, seed: int) -> dict:
    from PIL import Image

    p = _paths(data_dir, video.video_id)
    for d in (p["video"], os.path.dirname(p["annotation"]), os.path.dirname(p["programs"])):
        os.makedirs(d, exist_ok=True)
    rendered = []
    for f in video.step_frames()[:video.cfg.frames]:
        img, mask = render_frame(video, f)
        for arr, name in ((img, f"frame_{f:05d}.png"), (mask, f"mask_{f:05d}.png")):
            tmp = os.path.join(p["video"], f".{os.getpid()}.{name}")
            Image.fromarray(arr).save(tmp, format="PNG")
            os.replace(tmp, os.path.join(p["video"], name))
        boxes = []
        for i in range(video.n_objects):
            ys, xs = np.nonzero(mask == i + 1)
            if len(xs):
                boxes.append({"object_id": i, "bbox": [int(xs.min()), int(ys.min()), int(xs.max()) + 1,
                                                       int(ys.max()) + 1], "pixels": int(len(xs))})
        rendered.append({"frame_id": f, "frame_filename": f"video_{video.video_id:05d}/frame_{f:05d}.png",
                         "mask_filename": f"video_{video.video_id:05d}/mask_{f:05d}.png", "objects": boxes})
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
    atomic_json(p["annotation"], ann)
    atomic_json(p["programs"], {"scene_index": video.video_id, "questions": programs})
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

    @property
    def predictions_path(self) -> str:
        return _paths(self.data_dir, self.video_id)["predictions"]

    @property
    def programs_path(self) -> str:
        return _paths(self.data_dir, self.video_id)["programs"]


def load_video(data_dir: str, vid: int, cfg: GenConfig) -> VideoSample:
    from PIL import Image

    p = _paths(data_dir, vid)
    idx = tuple(k * cfg.frame_stride for k in range(cfg.frames))
    frames = np.stack([np.asarray(Image.open(os.path.join(p["video"], f"frame_{f:05d}.png")).convert("RGB"))
                       for f in idx])
    masks = np.stack([np.asarray(Image.open(os.path.join(p["video"], f"mask_{f:05d}.png"))) for f in idx])
    frames.setflags(write=False)
    masks.setflags(write=False)
    with open(p["annotation"]) as f:
        ann = json.load(f)
    return VideoSample(vid, data_dir, idx, frames, masks, ann, cfg.steps, cfg.frame_stride)
