"""A tiny neuro-symbolic pipeline that exercises every backend in seconds.

It is not a paper workload: it exists so that the quickstart, the tests and the benchmarks can
run the whole toolkit (torch and cProfile components, dense, sparse and embedding ops) quickly.
"""
from __future__ import annotations

import json

import torch
from pydantic import Field

from .base import Component, Workload
from .registry import Params, WorkloadSpec


class DemoParams(Params):
    objects: int = Field(12, ge=2, description="objects per scene")
    hidden: int = Field(128, ge=4, description="width of the MLP encoder")
    vocab: int = Field(64, ge=4, description="attribute vocabulary for the embedding")
    copies: int = Field(0, ge=0, description="extra tensor copies per forward (to plant a data-movement change)")


class _Encoder(torch.nn.Module):
    def __init__(self, p: DemoParams):
        super().__init__()
        self.embed = torch.nn.Embedding(p.vocab, p.hidden)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(p.hidden, p.hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(p.hidden, 4))
        self.copies = p.copies

    def forward(self, attrs: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        h = self.embed(attrs).sum(1)                      # [objects, hidden]
        for _ in range(self.copies):
            h = h.clone()
        h = h + torch.sparse.mm(adjacency, h)             # message passing over a sparse graph
        return torch.softmax(self.mlp(h), dim=-1)         # [objects, 4] concept scores


def build_demo(p: DemoParams, seed: int) -> Workload:
    encoder = _Encoder(p).eval()
    state = {"device": "cpu"}

    def make_samples(n: int) -> list:
        g = torch.Generator().manual_seed(seed)
        out = []
        for _ in range(n):
            attrs = torch.randint(0, p.vocab, (p.objects, 3), generator=g)
            idx = torch.randint(0, p.objects, (2, 3 * p.objects), generator=g)
            adj = torch.sparse_coo_tensor(idx, torch.ones(idx.shape[1]), (p.objects, p.objects),
                                          check_invariants=False)
            out.append((attrs, adj))
        return out

    def encode(sample):
        attrs, adj = sample
        with torch.no_grad():
            return encoder(attrs.to(state["device"]), adj.to(state["device"]))

    def to_scene(scores: torch.Tensor) -> str:
        # The hand-off to the symbolic side: the real systems write JSON that the executor parses.
        labels = scores.argmax(-1).tolist()
        return json.dumps([{"id": i, "label": int(c), "score": float(s)}
                           for i, (c, s) in enumerate(zip(labels, scores.max(-1).values.tolist()))])

    def reason(scene_json: str) -> dict:
        scene = json.loads(scene_json)
        counts: dict[int, int] = {}
        for obj in scene:
            if obj["score"] > 0.0:
                counts[obj["label"]] = counts.get(obj["label"], 0) + 1
        pairs = sum(1 for a in scene for b in scene if a["id"] < b["id"] and a["label"] == b["label"])
        return {"counts": counts, "same_label_pairs": pairs}

    def to_device(device: str) -> None:
        state["device"] = device
        encoder.to(device)

    return Workload(
        name="mlp-demo",
        components=[Component("encoder", encode, kind="neural", profiler="torch"),
                    Component("to_scene", to_scene, kind="symbolic", profiler="torch"),
                    Component("reasoner", reason, kind="symbolic", profiler="cprofile")],
        make_samples=make_samples, to_device=to_device,
        info={"parameters": sum(t.numel() for t in encoder.parameters())})


MLP_DEMO = WorkloadSpec("mlp-demo", "tiny embedding + sparse message passing + Python reasoner (smoke test)",
                        DemoParams, build_demo, smoke={"objects": 6, "hidden": 16})
