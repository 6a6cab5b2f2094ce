"""PrAE as a workload: one RAVEN-style matrix per sample; perception, planner, executor, selection."""
from __future__ import annotations

from pydantic import Field

from ..base import Component, Workload
from ..registry import Params


class PrAEParams(Params):
    image_size: int = Field(80, ge=32, le=320, description="panel side in pixels (the release uses 80)")
    channels: int = Field(32, ge=4, le=256, description="channels of the perception CNN's conv layers (release: 32)")
    values: int | None = Field(None, ge=4, le=40, description="values of every attribute (default RAVEN's own: "
                                                            "5 types, 6 sizes, 10 colours); the planner grows as its cube")


def build_prae(p: PrAEParams, seed: int) -> Workload:
    import torch

    from ..raven_common import ATTRIBUTES, attribute_sizes, raven_samples
    from .perception import Perception
    from .planner import Plans, execute, jsd, plan, tuple_counts

    sizes = attribute_sizes(p.values)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = Perception(sizes, p.channels, p.image_size).eval()
    state = {"device": "cpu", "plans": {a: Plans(sizes[a]) for a in ATTRIBUTES}}

    def make_samples(n: int) -> list:
        return raven_samples(seed, n, p.values, p.image_size)

    def to_device(device: str) -> None:
        state["device"] = device
        net.to(device)
        state["plans"] = {a: Plans(sizes[a], device) for a in ATTRIBUTES}

    def perception(sample):
        with torch.no_grad():
            return net(sample["panels"].to(state["device"]))

    def planner(logp):
        return logp, {a: plan(state["plans"][a], logp[a][:8]) for a in ATTRIBUTES}

    def executor(planned):
        logp, rules = planned
        return logp, {a: execute(state["plans"][a], logp[a][:8], int(rules[a].argmax())) for a in ATTRIBUTES}

    def selection(executed):
        logp, predicted = executed
        divergence = sum(jsd(logp[a][8:16], predicted[a][None, :]) for a in ATTRIBUTES)
        return int(torch.argmin(divergence))

    components = [Component("perception", perception, kind="neural", profiler="torch", modules=(net,)),
                  Component("planner", planner, kind="symbolic", profiler="torch"),
                  Component("executor", executor, kind="symbolic", profiler="torch"),
                  Component("selection", selection, kind="symbolic", profiler="torch")]
    return Workload(name="prae", components=components, make_samples=make_samples, to_device=to_device,
                    info={"image_size": p.image_size, "attribute_values": sizes,
                          "tuples": {a: tuple_counts(sizes[a]) for a in ATTRIBUTES},
                          "parameters": sum(t.numel() for t in net.parameters())})
