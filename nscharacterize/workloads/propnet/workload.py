"""Standalone PropNet workload (the original MLP Propagation Network), one episode per sample.

Cradle and Rope: one component, ``rollout``: the per-step evaluation loop (batch 1, dense relation
matrices with ``bmm``). Box: ``encode`` (per step, the visible boxes through the sparse encoder),
``decode`` (sparse decoder) and ``latent_rollout`` (the MLP roller over sliding windows).
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..base import Component, Workload
from ..registry import Params


class PropNetParams(Params):
    scenario: Literal["cradle", "rope", "box"] = Field(
        "cradle", description="PropNet setting: cradle (Newton's cradle, 1000 steps), rope (100 steps) or box "
                              "(partially observed boxes, 100 steps); case-insensitive")
    steps: int | None = Field(None, ge=12, le=5000, description="time steps per episode; default is the "
                              "setting's own (cradle 1000, rope 100, box 100)")
    nf_relation: int = Field(150, ge=4, description="relation encoder width (original: 150)")
    nf_particle: int = Field(100, ge=4, description="particle encoder width (original: 100)")
    nf_effect: int = Field(100, ge=4, description="effect width (original: 100)")
    pstep: int = Field(3, ge=1, le=10, description="propagation steps for cradle and rope (original: 3)")
    pstep_encode: int = Field(2, ge=1, le=10, description="box encoder propagation steps (original: 2)")
    pstep_decode: int = Field(1, ge=1, le=10, description="box decoder propagation steps (original: 1)")
    history_window: int = Field(5, ge=1, le=20, description="box latent history window (original: 5)")
    len_seq: int = Field(10, ge=2, le=50, description="box rollout sequence length (original: 10)")

    @field_validator("scenario", mode="before")
    @classmethod
    def _lower(cls, v):
        return v.lower() if isinstance(v, str) else v


def build_propnet(p: PropNetParams, seed: int) -> Workload:
    import torch

    from .model import PropNet
    from .scenarios import (SCENARIOS, box_decode, box_encode, box_rollout, cradle_relations, make_episode,
                            rope_relations, rollout_full)

    sc = SCENARIOS[p.scenario]
    steps = p.steps or sc.time_step
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = PropNet(sc.mode, sc.attr_dim, sc.state_dim, sc.action_dim, sc.relation_dim, sc.position_dim,
                        nf_particle=p.nf_particle, nf_relation=p.nf_relation, nf_effect=p.nf_effect,
                        history_window=p.history_window).eval()
    state = {"device": "cpu"}
    rel = None
    if sc.name == "cradle":
        rel = cradle_relations(sc.n_particle, sc.relation_dim)
    elif sc.name == "rope":
        rel = rope_relations(sc.n_particle, sc.relation_dim)

    def make_samples(n: int) -> list:
        return [make_episode(sc, steps, seed, i) for i in range(n)]

    def rollout(ep):
        return rollout_full(model, sc, ep, rel, p.pstep, state["device"])

    def encode(ep):
        return box_encode(model, sc, ep, p.pstep_encode, state["device"])

    def decode(enc):
        return box_decode(model, enc, p.pstep_decode)

    def latent_rollout(dec):
        return box_rollout(model, dec, sc, p.history_window, p.len_seq, p.nf_effect)

    def to_device(device: str) -> None:
        state["device"] = device
        model.to(device)

    if sc.mode == "full":
        components = [Component("rollout", rollout, kind="neural", profiler="torch", modules=(model,))]
    else:
        components = [Component("encode", encode, kind="neural", profiler="torch", modules=(model.encoder,)),
                      Component("decode", decode, kind="neural", profiler="torch", modules=(model.decoder,)),
                      Component("latent_rollout", latent_rollout, kind="neural", profiler="torch",
                                modules=(model.roller,))]
    return Workload(name=f"propnet-{sc.name}", components=components, make_samples=make_samples,
                    to_device=to_device,
                    info={"scenario": sc.name, "steps": steps, "objects": sc.n_particle * (2 if sc.name == "cradle" else 1)
                          + (2 if sc.name == "rope" else 0),
                          "relations": "dense" if sc.mode == "full" else "sparse",
                          "parameters": sum(t.numel() for t in model.parameters())})
