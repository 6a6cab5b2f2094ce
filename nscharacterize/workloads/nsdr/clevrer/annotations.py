"""Ground truth in the dynamics predictor's output format (``sim_%05d.json``)."""
from __future__ import annotations

from .videos import Video


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

