"""NS-DR's dynamics predictor: CLEVRER's convolutional Propagation Network and its rollout.

Architecture (docs/research/workload-architectures.md, section 2b): per-object 24x24 crops with 3 frames
of history (state 6 = mask, x, y, r, g, b per frame; attributes 5 broadcast over the crop),
convolutional particle and relation encoders (128-256-384-512, LeakyReLU), pstep 2 propagation
with 512-d effects over a fully connected graph whose receiver/sender matrices are sparse COO
``[n, n^2]`` tensors multiplied with ``torch.mm``, a ConvTranspose decoder with skip connections,
and an MLP relation (collision) predictor.

Rollout (NS-DR ``eval.py``): for the factual video and once per removed object, every observed
step calls the model once it has 3 frames of history, then 12 more steps are extrapolated; each
call assembles its inputs in Python (identity matching, per-pair ``Ra`` double loop, relation
matrices). The predictions go to ``sim_%05d.json`` for the executor.

Weights are random, so the model's outputs would drift; the rollout is *driven* by the synthetic
ground truth where a trained model's behaviour sets the amount of later work: after each call the
predicted position channels are replaced by the true positions of that step (factual or
counterfactual simulation), objects that have left the view are dropped, objects the model cannot
see yet (fewer than 3 frames of history) are carried at their true positions, and collisions are
the true ones of that step. Every model call and every tensor assembly still happens as in NS-DR.
"""
from __future__ import annotations

import json
import os

import numpy as np
import torch
from torch import nn

# dimensions (CLEVRER temporal_reasoning defaults)
STATE_DIM, ATTR_DIM, RELATION_DIM = 6, 5, 3
H, W = 100, 150
EXTRA_STEPS = 12


class ConvEncoder(nn.Module):
    """4x4/s2 convs nf -> 2nf -> 3nf, then 3x3 valid conv to ``out``: 24x24 -> 1x1."""

    def __init__(self, c_in: int, nf: int, out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, nf, 4, 2, 1)
        self.conv2 = nn.Conv2d(nf, nf * 2, 4, 2, 1)
        self.conv3 = nn.Conv2d(nf * 2, nf * 3, 4, 2, 1)
        self.conv4 = nn.Conv2d(nf * 3, out, 3, 1, 0)
        self.act = nn.LeakyReLU()

    def forward(self, x: torch.Tensor):
        x1 = self.act(self.conv1(x))
        x2 = self.act(self.conv2(x1))
        x3 = self.act(self.conv3(x2))
        x4 = self.act(self.conv4(x3))
        return x1, x2, x3, x4


class Propagator(nn.Module):
    def __init__(self, c_in: int, c_out: int, residual: bool = False):
        super().__init__()
        self.linear = nn.Linear(c_in, c_out)
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor, res: torch.Tensor | None = None) -> torch.Tensor:
        y = self.linear(x)
        return self.act(y + res) if self.residual else self.act(y)


class SkipDecoder(nn.Module):
    """ConvTranspose decoder: the effect (1x1) and each encoder map are concatenated on the way up."""

    def __init__(self, nf_effect: int, nf: int, out: int):
        super().__init__()
        self.up1 = nn.ConvTranspose2d(nf_effect * 2, nf * 3, 3, 1, 0)
        self.up2 = nn.ConvTranspose2d(nf * 3 * 2, nf * 2, 4, 2, 1)
        self.up3 = nn.ConvTranspose2d(nf * 2 * 2, nf, 4, 2, 1)
        self.up4 = nn.ConvTranspose2d(nf * 2, out, 4, 2, 1)
        self.act = nn.LeakyReLU()

    def forward(self, x: torch.Tensor, skips) -> torch.Tensor:
        x = self.act(self.up1(torch.cat([x, skips[3]], 1)))
        x = self.act(self.up2(torch.cat([x, skips[2]], 1)))
        x = self.act(self.up3(torch.cat([x, skips[1]], 1)))
        return self.up4(torch.cat([x, skips[0]], 1))


class ConvPropNet(nn.Module):
    def __init__(self, nf_particle: int = 128, nf_relation: int = 128, nf_effect: int = 512, n_his: int = 2):
        super().__init__()
        state_in = STATE_DIM * (n_his + 1)
        rel_in = RELATION_DIM * (n_his + 1)
        self.nf_effect = nf_effect
        self.particle_encoder = ConvEncoder(state_in + ATTR_DIM, nf_particle, nf_effect)
        self.relation_encoder = ConvEncoder(2 * state_in + 2 * ATTR_DIM + rel_in, nf_relation, nf_effect)
        self.relation_propagator = Propagator(3 * nf_effect, nf_effect)
        self.particle_propagator = Propagator(2 * nf_effect, nf_effect, residual=True)
        self.particle_predictor = SkipDecoder(nf_effect, nf_particle, STATE_DIM)
        self.relation_predictor = nn.Sequential(nn.Linear(nf_effect, nf_effect), nn.ReLU(),
                                                nn.Linear(nf_effect, nf_effect), nn.ReLU(),
                                                nn.Linear(nf_effect, 1))
        self.calls = 0  # model invocations (tests count them)

    def forward(self, attr, state, Rr, Rs, Ra, node_r_idx, node_s_idx, pstep: int):
        self.calls += 1
        n = state.size(0)
        particle_effect = torch.zeros((n, self.nf_effect), device=state.device)
        Rrp, Rsp = Rr.t(), Rs.t()                       # sparse [n^2, n]
        n_rel = Rrp.size(0)
        n_attr, n_state, bh, bw = attr.size(1), state.size(1), state.size(2), state.size(3)

        attr_r, attr_s = attr[node_r_idx], attr[node_s_idx]
        state_r, state_s = state[node_r_idx], state[node_s_idx]
        attr_r_rel = torch.mm(Rrp, attr_r.reshape(n, -1)).view(n_rel, n_attr, bh, bw)
        attr_s_rel = torch.mm(Rsp, attr_s.reshape(n, -1)).view(n_rel, n_attr, bh, bw)
        state_r_rel = torch.mm(Rrp, state_r.reshape(n, -1)).view(n_rel, n_state, bh, bw)
        state_s_rel = torch.mm(Rsp, state_s.reshape(n, -1)).view(n_rel, n_state, bh, bw)

        particle_encode = self.particle_encoder(torch.cat([attr_r, state_r], 1))
        relation_encode = self.relation_encoder(
            torch.cat([attr_r_rel, attr_s_rel, state_r_rel, state_s_rel, Ra], 1))[-1].view(n_rel, -1)
        particle_code = particle_encode[-1].view(n, -1)

        effect_rel = None
        for _ in range(pstep):
            effect_p_r = particle_effect[node_r_idx]
            effect_p_s = particle_effect[node_s_idx]
            receiver_effect = Rrp.mm(effect_p_r)
            sender_effect = Rsp.mm(effect_p_s)
            effect_rel = self.relation_propagator(torch.cat([relation_encode, receiver_effect, sender_effect], 1))
            effect_agg = Rr.mm(effect_rel)
            effect_p = self.particle_propagator(torch.cat([particle_code, effect_agg], 1), res=effect_p_r)
            particle_effect[node_r_idx] = effect_p

        pred_obj = self.particle_predictor(particle_effect.view(n, self.nf_effect, 1, 1), particle_encode)
        # position channels become their spatial mean
        pred_obj[:, 1] = torch.mean(pred_obj[:, 1].reshape(n, -1), 1).view(n, 1, 1)
        pred_obj[:, 2] = torch.mean(pred_obj[:, 2].reshape(n, -1), 1).view(n, 1, 1)
        pred_rel = self.relation_predictor(effect_rel)
        return pred_obj, pred_rel, particle_effect


# ------------------------------------------------------------------------------ input assembly
def same_identity(a, b) -> bool:
    for i in range(len(a)):
        if a[i] != b[i]:
            return False
    return True


def contains_identity(ident, idents) -> bool:
    for other in idents:
        if same_identity(ident, other):
            return True
    return False


def prepare_relations(n: int):
    """Fully connected graph: receiver index repeat(arange), sender index tile(arange), values 1."""
    node_r_idx = np.arange(n)
    node_s_idx = np.arange(n)
    rel = np.zeros((n * n, 2))
    rel[:, 0] = np.repeat(np.arange(n), n)
    rel[:, 1] = np.tile(np.arange(n), n)
    n_rel = rel.shape[0]
    Rr_idx = torch.LongTensor(np.stack([rel[:, 0], np.arange(n_rel)]))
    Rs_idx = torch.LongTensor(np.stack([rel[:, 1], np.arange(n_rel)]))
    value = torch.FloatTensor([1] * n_rel)
    return Rr_idx, Rs_idx, value, node_r_idx, node_s_idx


def encode_attr(material: str, shape: str, size: int = 24) -> torch.Tensor:
    attr = np.zeros(ATTR_DIM)
    attr[0 if material == "rubber" else 1] = 1
    attr[{"cube": 2, "cylinder": 3, "sphere": 4}[shape]] = 1
    ret = np.ones((size, size, ATTR_DIM)) * attr
    return torch.FloatTensor(np.swapaxes(ret, 0, 2))


def mask_to_bbox(mask: np.ndarray, size: int):
    """Mask centroid (in the HxW working frame) and the crop box around it."""
    h, w = mask.shape
    rows = np.repeat(np.arange(h), w).reshape(h, w)
    cols = np.tile(np.arange(w), h).reshape(h, w)
    total = np.sum(mask)
    r = np.sum(mask * rows) / total * (float(H) / h)
    c = np.sum(mask * cols) / total * (float(W) / w)
    pos = np.ones((2, size, size))
    pos[0] *= r
    pos[1] *= c
    return (int(r - size / 2), int(c - size / 2), size, size), torch.FloatTensor(pos)


def crop(src: np.ndarray, bbox) -> torch.Tensor:
    x, y, h, w = bbox
    shape = list(src.shape)
    shape[0], shape[1] = h, w
    out = np.zeros(shape)
    x_, y_ = max(-x, 0), max(-y, 0)
    x, y = max(x, 0), max(y, 0)
    h_, w_ = min(h - x_, H - x), min(w - y_, W - y)
    if h_ > 0 and w_ > 0:
        out[x_:x_ + h_, y_:y_ + w_] = src[x:x + h_, y:y + w_]
    return torch.FloatTensor(out)


def _resize_nearest(a: np.ndarray, h: int, w: int) -> np.ndarray:
    rows = (np.arange(h) * a.shape[0] / h).astype(int)
    cols = (np.arange(w) * a.shape[1] / w).astype(int)
    return a[rows][:, cols]


def build_tracks(proposals: dict, bbox_size: int = 24, min_frames: int | None = None) -> dict:
    """NS-DR's per-video preprocessing: keep identities seen in enough frames, then per frame and
    object the 24x24 attribute, mask, position and colour crops, plus the collision labels."""
    sample = proposals["sample"]
    frames = proposals["frames"]
    stride = sample.frame_stride
    if min_frames is None:  # NS-DR keeps identities seen in >= 10 of 128 frames
        min_frames = max(1, int(np.ceil(len(frames) * 10 / 128)))
    counts: list = []
    for fr in frames:
        for o in fr["objects"]:
            ident = (o["color"], o["material"], o["shape"])
            for entry in counts:
                if same_identity(entry[0], ident):
                    entry[1] += 1
                    break
            else:
                counts.append([ident, 1])
    order = {(o["color"], o["material"], o["shape"]): o["object_id"] for o in sample.annotation["object_property"]}
    ids_filter = sorted([c[0] for c in counts if c[1] >= min_frames], key=lambda i: order[i])

    gt_cols = sample.annotation["collision"]
    props = sample.annotation["object_property"]
    pos_mean = torch.FloatTensor(np.array([H / 2.0, W / 2.0])).unsqueeze(1).unsqueeze(1)
    frames_gt = []
    for k, fr in enumerate(frames):
        img = _resize_nearest(sample.frames[k], H, W) / 255.0
        objs, seen = [], []
        for o in fr["objects"]:
            ident = (o["color"], o["material"], o["shape"])
            if not contains_identity(ident, ids_filter) or contains_identity(ident, seen):
                continue
            seen.append(ident)
            attr = encode_attr(o["material"], o["shape"], bbox_size)
            mask_raw = o["mask"].astype(np.float64)
            mask = _resize_nearest(mask_raw, H, W)
            bbox, pos = mask_to_bbox(mask_raw, bbox_size)
            pos = (pos - pos_mean) / pos_mean
            mask_crop = ((crop(mask, bbox) - 0.5) / 1.0).unsqueeze(0)
            img_crop = ((crop(img, bbox) - 0.5) / 0.5).permute(2, 0, 1)
            objs.append([attr, torch.cat([mask_crop, pos, img_crop], 0).unsqueeze(0), ident])
        rels = []
        f0 = sample.frame_indices[k]
        for c in gt_cols:
            if 0 <= c["frame_id"] - f0 < stride:
                a, b = c["object_ids"]
                rels.append([_ident(props[a]), _ident(props[b])])
        frames_gt.append([objs, rels])
    return {"sample": sample, "ids_filter": ids_filter, "frames_gt": frames_gt}


def _ident(o: dict) -> tuple:
    return (o["color"], o["material"], o["shape"])


# ------------------------------------------------------------------------------------ rollout
class Rollout:
    """Runs NS-DR's rollouts for one video and writes ``sim_%05d.json``."""

    def __init__(self, model: ConvPropNet, pstep: int = 2, n_his: int = 2, bbox_size: int = 24,
                 extra_steps: int = EXTRA_STEPS, device: str = "cpu"):
        self.model, self.pstep, self.n_his = model, pstep, n_his
        self.bbox_size, self.extra_steps, self.device = bbox_size, extra_steps, device

    # ground truth that drives the rollout ----------------------------------------------------
    @staticmethod
    def _truth(sample) -> dict:
        """(what_if object id or -1, step) -> ({identity: (x, y)} visible, [collision pairs])."""
        ann = sample.annotation
        props = ann["object_property"]
        stride = sample.frame_stride
        out = {}
        traj = ann["motion_trajectory"]
        for step in range(sample.n_steps):
            f = step * stride
            vis = {_ident(props[o["object_id"]]): tuple(o["location"]) for o in traj[f]["objects"]
                   if o["inside_camera_view"]}
            cols = [(_ident(props[c["object_ids"][0]]), _ident(props[c["object_ids"][1]]))
                    for c in ann["collision"] if 0 <= c["frame_id"] - f < stride]
            out[(-1, step)] = (vis, cols)
        for k, cf in ann["counterfactual"].items():
            for step, st in enumerate(cf["steps"]):
                f = st["frame_id"]
                vis = {_ident(props[o["object_id"]]): tuple(o["location"]) for o in st["objects"]}
                cols = [(_ident(props[c["object_ids"][0]]), _ident(props[c["object_ids"][1]]))
                        for c in cf["collision"] if 0 <= c["frame_id"] - f < stride]
                out[(int(k), step)] = (vis, cols)
        return out

    def forward_step(self, frames: list, truth, objs_gt=None):
        n_his = self.n_his
        if len(frames) < n_his + 1:
            return [], []
        # identities present in every history frame
        ids_predict = []
        for obj in frames[0][0]:
            ident = obj[2]
            keep = True
            for fr in frames[1:]:
                if not any(same_identity(o[2], ident) for o in fr[0]):
                    keep = False
                    break
            if keep:
                ids_predict.append(ident)
        n = len(ids_predict)
        if n == 0:
            return [], []

        feats_rec, attrs = [], []
        for t, fr in enumerate(frames):
            cur = []
            for ident in ids_predict:
                for attr, feat, other in fr[0]:
                    if same_identity(ident, other):
                        cur.append(feat.clone())
                        if t == 0:
                            attrs.append(attr.unsqueeze(0).clone())
                        break
            feats_rec.append(torch.cat(cur, 0))
        attrs_t = torch.cat(attrs, 0)
        feats = torch.cat(list(feats_rec), 1)

        n_rel = n * n
        Ra = torch.FloatTensor(np.ones((n_rel, RELATION_DIM * (n_his + 1), self.bbox_size, self.bbox_size)) * -0.5)
        for i in range(n):
            for j in range(n):
                idx = i * n + j
                Ra[idx, 1::RELATION_DIM] = feats[i, 1::STATE_DIM] - feats[j, 1::STATE_DIM]
                Ra[idx, 2::RELATION_DIM] = feats[i, 2::STATE_DIM] - feats[j, 2::STATE_DIM]
        for t, fr in enumerate(frames):
            for id0, id1 in fr[1]:
                x = y = -1
                for k in range(n):
                    if same_identity(id0, ids_predict[k]):
                        x = k
                    if same_identity(id1, ids_predict[k]):
                        y = k
                if x < 0 or y < 0:
                    continue
                Ra[x * n + y, t * RELATION_DIM] = 0.5
                Ra[y * n + x, t * RELATION_DIM] = 0.5

        Rr_idx, Rs_idx, value, node_r_idx, node_s_idx = prepare_relations(n)
        Rr = torch.sparse_coo_tensor(Rr_idx, value, (n, n_rel), check_invariants=False)
        Rs = torch.sparse_coo_tensor(Rs_idx, value, (n, n_rel), check_invariants=False)
        dev = self.device
        with torch.no_grad():
            pred_obj, pred_rel, _feat = self.model(attrs_t.to(dev), feats.to(dev), Rr.to(dev), Rs.to(dev),
                                                   Ra.to(dev), node_r_idx, node_s_idx, self.pstep)
        pred_obj, pred_rel = pred_obj.cpu(), pred_rel.cpu()

        vis, cols = truth
        objs_pred = []
        if objs_gt is not None:
            for i in range(n):
                for o in objs_gt:
                    if same_identity(ids_predict[i], o[2]):
                        objs_pred.append(o)
                        break
        else:
            for i in range(n):
                if ids_predict[i] not in vis:  # driven: the object has left the view
                    continue
                feat = pred_obj[i:i + 1]
                feat[0, 1] += feats_rec[-1][i, 1]
                feat[0, 2] += feats_rec[-1][i, 2]
                feat[0, 0, feat[0, 0] >= 0] = 0.5
                feat[0, 0, feat[0, 0] < 0] = -0.5
                x, y = vis[ids_predict[i]]       # driven: true position of this step
                feat[0, 1] = (y * H / 320.0 - H / 2.0) / (H / 2.0)
                feat[0, 2] = (x * W / 480.0 - W / 2.0) / (W / 2.0)
                objs_pred.append([attrs_t[i], feat, ids_predict[i]])
        rels_pred = []
        true_pairs = [set(c) for c in cols]
        for i in range(n_rel):
            x, y = i // n, i % n
            if x >= y:
                continue
            _logit = pred_rel[i] + pred_rel[y * n + x]
            if {ids_predict[x], ids_predict[y]} in true_pairs:  # driven: the true collisions
                rels_pred.append([ids_predict[x], ids_predict[y]])
        return objs_pred, rels_pred

    @staticmethod
    def _carry_unpredicted(prev_objs: list, objs_pred: list, truth) -> list:
        """Driven: objects still in view that the model could not predict because they entered
        within the last 3 observed frames (NS-DR drops them) are carried at their true position;
        once they have 3 frames of history the model predicts them like any other."""
        have = [o[2] for o in objs_pred]
        out = []
        for attr, feat, ident in prev_objs:
            if ident in truth[0] and not contains_identity(ident, have):
                x, y = truth[0][ident]
                feat = feat.clone()
                feat[0, 1] = (y * H / 320.0 - H / 2.0) / (H / 2.0)
                feat[0, 2] = (x * W / 480.0 - W / 2.0) / (W / 2.0)
                out.append([attr, feat, ident])
        return out

    @staticmethod
    def _unpredicted_collisions(objs: list, rels: list, truth) -> list:
        """Driven: true collisions of this step that the model could not see because an object
        has fewer than 3 frames of history (NS-DR would miss them)."""
        have = [set(r) for r in rels]
        present = [o[2] for o in objs]
        out = []
        for a, b in truth[1]:
            if {a, b} not in have and contains_identity(a, present) and contains_identity(b, present):
                out.append([a, b])
                have.append({a, b})
        return out

    def run(self, tracks: dict) -> dict:
        sample, ids_filter, frames_gt = tracks["sample"], tracks["ids_filter"], tracks["frames_gt"]
        truth = self._truth(sample)
        props = sample.annotation["object_property"]
        obj_id = {_ident(o): o["object_id"] for o in props}
        n_his = self.n_his
        n_obs = len(frames_gt)
        out = {"objects": [{"color": c, "material": m, "shape": s, "id": i}
                           for i, (c, m, s) in enumerate(ids_filter)], "predictions": []}
        for what_if in range(-1, len(ids_filter)):
            key = -1 if what_if == -1 else obj_id[ids_filter[what_if]]
            frames_pred: list = []
            shown_up = False
            for idx in range(n_obs):
                objs_gt = frames_gt[idx][0]
                frame_objs = []
                for obj in objs_gt:
                    ident = obj[2]
                    valid = False
                    for k in range(len(ids_filter)):
                        if same_identity(ident, ids_filter[k]):
                            if k == what_if:
                                shown_up = True
                                continue
                            valid = True
                            break
                    if not valid:
                        continue
                    considered = idx >= n_his + 1
                    if considered:
                        for k in range(n_his + 1):
                            if not any(same_identity(ident, o[2]) for o in frames_pred[idx - k - 1][0]):
                                considered = False
                                break
                    if not considered:
                        frame_objs.append(obj)
                use_gt = what_if == -1 or not shown_up
                objs_pred, rels_pred = self.forward_step(frames_pred[max(0, idx - n_his - 1):idx],
                                                         truth[(key, idx)], objs_gt if use_gt else None)
                objs = frame_objs + objs_pred
                frames_pred.append([objs, rels_pred + self._unpredicted_collisions(objs, rels_pred, truth[(key, idx)])])
            for idx in range(n_obs, n_obs + self.extra_steps):
                objs_pred, rels_pred = self.forward_step(frames_pred[idx - n_his - 1:idx], truth[(key, idx)])
                objs = objs_pred + self._carry_unpredicted(frames_pred[idx - 1][0], objs_pred, truth[(key, idx)])
                frames_pred.append([objs, rels_pred + self._unpredicted_collisions(objs, rels_pred,
                                                                                    truth[(key, idx)])])
            out["predictions"].append(self._to_json(what_if, frames_pred, sample.frame_stride))
        return out

    @staticmethod
    def _to_json(what_if: int, frames_pred: list, stride: int) -> dict:
        traj, cols = [], []
        for i, (objs, rels) in enumerate(frames_pred):
            entry: dict = {"frame_index": i * stride, "objects": []}
            for _attr, feat, ident in objs:
                row = float(feat[0, 1, 0, 0]) * H / 2.0 + H / 2.0
                col = float(feat[0, 2, 0, 0]) * W / 2.0 + W / 2.0
                entry["objects"].append({"x": row * 320.0 / H, "y": col * 480.0 / W,  # NS-DR: x = row
                                         "color": ident[0], "material": ident[1], "shape": ident[2]})
            traj.append(entry)
            for id0, id1 in rels:
                cols.append({"frame": i * stride, "objects": [
                    {"color": id0[0], "material": id0[1], "shape": id0[2]},
                    {"color": id1[0], "material": id1[1], "shape": id1[2]}]})
        return {"what_if": what_if, "trajectory": traj, "collisions": cols}


def write_predictions(pred: dict, path: str) -> str:
    """json.dump to ``sim_%05d.json`` (through a temporary file and a rename)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(pred, f)
    os.replace(tmp, path)
    return path
