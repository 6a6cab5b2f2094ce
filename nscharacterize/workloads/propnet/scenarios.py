"""PropNet's three settings: relation graphs, synthetic episodes and the evaluation loops.

Facts (docs/research/workload-architectures.md, section 3): Cradle = 5 balls + 5 anchors, 18 relations,
attr 2, state 4 (x, y, xdot, ydot), predicts velocities, 1000 steps (dt 0.001); Rope = 15 particles +
2 fixed ends, 309 relations (collision / one-hop / bi-hop one-hot), attr 3, state 4, action 2,
100 steps (dt 0.02); Box = 20 boxes, state 6 (x, y, angle and their rates), action 2, partial
observation (only visible boxes enter the graph), encoder pstep 2, decoder pstep 1, history
window 5, sequence length 10, 100 steps. Cradle and Rope build sparse COO relation matrices and
immediately make them dense (``to_dense``); Box keeps them sparse.

Episodes are synthetic and deterministic from the seed (trained weights and real trajectories do
not change the amount of work: every step runs the model once with batch 1, as the original eval).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Scenario:
    name: str
    mode: str            # full | partial
    n_particle: int
    attr_dim: int
    state_dim: int
    action_dim: int
    relation_dim: int
    position_dim: int
    time_step: int
    dt: float


SCENARIOS = {
    "cradle": Scenario("cradle", "full", 5, 2, 4, 0, 1, 2, 1000, 0.001),
    "rope": Scenario("rope", "full", 15, 3, 4, 2, 3, 2, 100, 1.0 / 50.0),
    "box": Scenario("box", "partial", 20, 0, 6, 2, 1, 3, 100, 1.0 / 50.0),
}


# ---------------------------------------------------------------------------------- relations
def _sparse(idx_rows: np.ndarray, n_obj: int) -> tuple[torch.Tensor, torch.Tensor]:
    n_rel = idx_rows.shape[0]
    Rr_idx = torch.LongTensor(np.stack([idx_rows[:, 0], np.arange(n_rel)]))
    Rs_idx = torch.LongTensor(np.stack([idx_rows[:, 1], np.arange(n_rel)]))
    values = torch.ones(n_rel)
    Rr = torch.sparse_coo_tensor(Rr_idx, values, (n_obj, n_rel), check_invariants=False)
    Rs = torch.sparse_coo_tensor(Rs_idx, values, (n_obj, n_rel), check_invariants=False)
    return Rr, Rs


def cradle_relations(n_ball: int, relation_dim: int):
    """Ball <-> anchor and neighbouring ball <-> ball, both directions: 2n + 2(n-1) relations."""
    pairs = []
    for i in range(n_ball):
        pairs += [(i, i + n_ball), (i + n_ball, i)]
    for i in range(n_ball - 1):
        pairs += [(i, i + 1), (i + 1, i)]
    rel = np.array(pairs, dtype=np.int64)
    Rr, Rs = _sparse(rel, 2 * n_ball)
    Ra = torch.zeros(rel.shape[0], relation_dim)
    return Rr.to_dense(), Rs.to_dense(), Ra


def rope_relations(n_ball: int, relation_dim: int):
    """Particles with both fixed ends, all particle pairs (type 0), one-hop (1) and bi-hop (2)."""
    pairs, types = [], []
    for i in range(n_ball):
        pairs += [(i, n_ball), (i, n_ball + 1)]
        types += [0, 0]
    for i in range(n_ball):
        for j in range(n_ball):
            pairs.append((i, j))
            types.append(0)
    for hop, kind in ((1, 1), (2, 2)):
        for i in range(n_ball - hop):
            pairs += [(i, i + hop), (i + hop, i)]
            types += [kind, kind]
    rel = np.array(pairs, dtype=np.int64)
    Ra = np.zeros((rel.shape[0], relation_dim))
    Ra[np.arange(rel.shape[0]), types] = 1
    Rr, Rs = _sparse(rel, n_ball + 2)
    return Rr.to_dense(), Rs.to_dense(), torch.FloatTensor(Ra)


def fully_connected_relations(n: int, relation_dim: int):
    """Box: all ordered pairs of visible boxes, kept sparse."""
    rel = np.stack([np.repeat(np.arange(n), n), np.tile(np.arange(n), n)], 1)
    Rr, Rs = _sparse(rel, n)
    return Rr, Rs, torch.zeros(rel.shape[0], relation_dim)


def n_relations(sc: Scenario) -> int:
    n = sc.n_particle
    if sc.name == "cradle":
        return 2 * n + 2 * (n - 1)
    if sc.name == "rope":
        return 2 * n + n * n + 2 * (n - 1) + 2 * (n - 2)
    return n * n


# ----------------------------------------------------------------------------------- episodes
def make_episode(sc: Scenario, steps: int, seed: int, idx: int) -> dict:
    """A deterministic synthetic episode with the shapes of the original data files."""
    rng = np.random.default_rng([seed, idx, {"cradle": 1, "rope": 2, "box": 3}[sc.name]])
    t = np.arange(steps)[:, None] * sc.dt
    n = sc.n_particle
    if sc.name == "cradle":
        theta = rng.uniform(0.1, 0.6, n) * np.cos(2 * np.pi * 1.5 * t + rng.uniform(0, np.pi, n))   # [T, n]
        dtheta = np.gradient(theta, sc.dt, axis=0)
        ax = np.arange(n) * 40.0
        states = np.zeros((steps, 2 * n, 4))
        states[:, :n, 0] = ax + 100 * np.sin(theta)
        states[:, :n, 1] = -100 * np.cos(theta)
        states[:, :n, 2] = 100 * np.cos(theta) * dtheta
        states[:, :n, 3] = 100 * np.sin(theta) * dtheta
        states[:, n:, 0] = ax
        attrs = np.zeros((steps, 2 * n, 2))
        attrs[:, :n, 0] = 1
        attrs[:, n:, 1] = 1
        return {"attrs": attrs, "states": states}
    if sc.name == "rope":
        m = n + 2
        phase = rng.uniform(0, 2 * np.pi)
        xs = np.linspace(50, 550, n)
        states = np.zeros((steps, m, 4))
        states[:, :n, 0] = xs
        states[:, :n, 1] = 300 + 40 * np.sin(xs / 80.0 + 3 * t + phase)
        states[:, :n, 3] = 120 * np.cos(xs / 80.0 + 3 * t + phase)
        states[:, n, :2] = (0, 300)
        states[:, n + 1, :2] = (600, 300)
        attrs = np.zeros((steps, m, 3))
        attrs[:, :n, 0] = 1
        attrs[:, n:, 1] = 1
        attrs[:, :, 2] = 10.0
        actions = rng.normal(0, 1.0, (steps, m, 2))
        actions[:, n:] = 0
        return {"attrs": attrs, "states": states, "actions": actions}
    xs = rng.uniform(-500, 500, n)
    states = np.zeros((steps, n, 6))
    push = np.cumsum(rng.normal(0, 3.0, steps))
    states[:, :, 0] = xs[None, :] + push[:, None] * (np.abs(xs[None, :]) < 150)
    states[:, :, 1] = rng.uniform(0, 40, n)[None, :]
    states[:, :, 2] = rng.uniform(-0.2, 0.2, n)[None, :] * np.cos(t)
    states[:, :, 3:] = np.gradient(states[:, :, :3], sc.dt, axis=0)
    actions = np.zeros((steps, 1, 2))
    actions[:, 0, 0] = push
    actions[:, 0, 1] = np.gradient(push, sc.dt)
    window = 380 + 60 * np.sin(3 * t)                       # the camera sees |x| < window
    vis = (np.abs(states[:, :, 0]) < window).astype(np.float64)
    vis[:, :2] = 1.0                                        # never an empty graph
    return {"states": states, "actions": actions, "vis": vis}


def make_stats(ep: dict, names: list[str]) -> list[np.ndarray]:
    """Per-dimension [mean, std] of each data array, as PropNet's stat.h5."""
    out = []
    for k in names:
        a = ep[k].reshape(-1, ep[k].shape[-1])
        s = np.stack([a.mean(0), a.std(0)], 1)
        s[s[:, 1] == 0, 1] = 1.0
        out.append(s)
    return out


def normalize(data: list, stat: list) -> list:
    return [(d - s[:, 0]) / s[:, 1] for d, s in zip(data, stat)]


def denormalize(data: list, stat: list) -> list:
    return [d * s[:, 1] + s[:, 0] for d, s in zip(data, stat)]


# -------------------------------------------------------------------------------- eval loops
def rollout_full(model, sc: Scenario, ep: dict, rel: tuple, pstep: int, device: str = "cpu") -> dict:
    """Cradle / Rope evaluation: a per-step loop, batch 1, numpy normalisation, Euler integration
    of the predicted velocities on the CPU (eval_type 'rollout')."""
    Rr, Rs, Ra = (r.to(device) for r in rel)
    names = ["attrs", "states"] + (["actions"] if sc.action_dim else [])
    stat = make_stats(ep, names)
    attrs_gt, states_gt = ep["attrs"], ep["states"]
    steps = states_gt.shape[0]
    d = sc.position_dim
    state_cur = states_gt[0].copy()
    states_pred = np.zeros((steps - 1,) + state_cur.shape)
    losses = []
    for step in range(steps - 1):
        states_pred[step] = state_cur.copy()
        inputs = [attrs_gt[step].copy(), state_cur] + ([ep["actions"][step]] if sc.action_dim else [])
        data = normalize(inputs, stat)
        attr = torch.FloatTensor(data[0]).to(device)[None, :, :]
        state = torch.FloatTensor(data[1]).to(device)[None, :, :]
        action = torch.FloatTensor(data[2]).to(device)[None, :, :] if sc.action_dim else None
        with torch.no_grad():
            pred = model(attr, state, Rr[None, :, :], Rs[None, :, :], Ra[None, :, :], pstep, action=action)
        model.model.calls += 1
        label = normalize([states_gt[step + 1]], [stat[1]])[0][:, d:]
        label = torch.FloatTensor(label).to(device)[None, :, :]
        losses.append(F.l1_loss(pred, label).item())
        state[:, :, d:] = pred
        state_np = denormalize([state.cpu().numpy()], [stat[1]])[0]
        state_cur[:, :d] = state_cur[:, :d] + state_np[0, :, d:] * sc.dt
        state_cur[:, d:] = state_np[0, :, d:]
    return {"states_pred": states_pred, "loss": float(np.mean(losses))}


def box_encode(model, sc: Scenario, ep: dict, pstep_encode: int, device: str = "cpu") -> dict:
    """Box, first pass: per step, the visible boxes' states through the (sparse) encoder."""
    stat = make_stats(ep, ["states", "actions"])
    states_gt, actions_gt, vis_gt = ep["states"], ep["actions"], ep["vis"]
    steps = states_gt.shape[0]
    latents, encodes, actions, datas, rels = [], [], [], [], []
    for step in range(steps - 1):
        state, action = normalize([states_gt[step], actions_gt[step]], stat)
        state = torch.FloatTensor(state[np.newaxis, vis_gt[step].astype(bool)]).to(device)
        action = torch.FloatTensor(action[np.newaxis, ...]).to(device)
        Rr, Rs, Ra = fully_connected_relations(state.size(1), sc.relation_dim)
        Rr, Rs, Ra = Rr.to(device), Rs.to(device), Ra.to(device)[None, :, :]
        with torch.no_grad():
            encode = model.encode(state, Rr, Rs, Ra, pstep_encode)
            latent = model.to_latent(encode)
        datas.append(state)
        rels.append((Rr, Rs, Ra))
        encodes.append(encode)
        latents.append(latent)
        actions.append(action)
    return {"episode": ep, "stat": stat, "latents": latents, "encodes": encodes, "actions": actions,
            "states": datas, "rels": rels}


def box_decode(model, enc: dict, pstep_decode: int) -> dict:
    """Box, second pass: decode every step's encoding back to box states (sparse decoder)."""
    ep, stat = enc["episode"], enc["stat"]
    states_gt, vis_gt = ep["states"], ep["vis"]
    losses = []
    states_pred = np.zeros((len(enc["encodes"]),) + states_gt.shape[1:])
    for step, encode in enumerate(enc["encodes"]):
        Rr, Rs, Ra = enc["rels"][step]
        with torch.no_grad():
            decode = model.decode(encode, Rr, Rs, Ra, pstep_decode)
        losses.append(F.l1_loss(decode, enc["states"][step]).item())
        states_pred[step] = states_gt[step]
        states_pred[step][vis_gt[step].astype(bool)] = denormalize([decode.cpu().numpy()], [stat[0]])[0]
    return {**enc, "states_pred": states_pred, "losses_encode": losses}


def box_rollout(model, dec: dict, sc: Scenario, history_window: int, len_seq: int, nf_effect: int) -> dict:
    """Box, third pass: roll the summed latent forward over sliding windows of history."""
    latents = list(dec["latents"])   # replaced in place as the rollout goes, on a copy
    actions = dec["actions"]
    n = len(latents)
    losses = []
    for step in range(n):
        loss_roll = 0.0
        latent_roll = torch.cat(latents[step:step + history_window], 2)
        action_roll = torch.cat(actions[step:step + history_window], 2)
        for i in range(step + history_window, min(n, step + len_seq)):
            with torch.no_grad():
                latent_pred = model.rollout(latent_roll, action_roll)
            loss_roll += float(torch.abs(latent_pred - latents[i]).sum()) / nf_effect
            if i == step + history_window:
                latents[i] = latent_pred
            latent_roll = torch.cat([latent_roll[:, :, nf_effect:], latent_pred], 2)
            action_roll = torch.cat([action_roll[:, :, sc.action_dim:], actions[i]], 2)
        loss_encode = float(np.sum(dec["losses_encode"][step:step + len_seq])) / len_seq
        losses.append(loss_encode + loss_roll / (len_seq - history_window) * 0.3)
    return {"states_pred": dec["states_pred"], "loss": float(np.mean(losses))}
