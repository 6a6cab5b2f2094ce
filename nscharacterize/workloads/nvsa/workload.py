"""NVSA as a workload: one RAVEN-style matrix per sample, five components."""
from __future__ import annotations

from pydantic import Field, model_validator

from ..base import Component, Workload
from ..registry import Params


class NVSAParams(Params):
    d: int = Field(1024, ge=16, le=65536, description="block-code dimension (NVSA release: 1024)")
    k: int = Field(4, ge=1, le=64, description="blocks per vector (NVSA release: 4)")
    image_size: int = Field(80, ge=32, le=320, description="panel side in pixels (the release resizes RAVEN's "
                                                          "160-pixel panels to 80)")
    values: int | None = Field(None, ge=4, le=64, description="values of every attribute (default RAVEN's own: "
                                                            "5 types, 6 sizes, 10 colours); the task size a sweep grows")
    temperature: float = Field(0.1, gt=0, description="softmax temperature of the front end's similarities")

    @model_validator(mode="after")
    def _blocks_divide(self):
        if self.d % self.k:
            raise ValueError(f"d ({self.d}) must be a multiple of k ({self.k}); pick d = k * block length")
        return self


def build_nvsa(p: NVSAParams, seed: int) -> Workload:
    import torch

    from ..raven_common import RULES, attribute_sizes, raven_samples
    from .model import Codebooks, Frontend, execute, perceive, pmf_to_vector, rule_scores, select_answer

    sizes = attribute_sizes(p.values)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        frontend = Frontend(p.d).eval()
    books = Codebooks(sizes, p.d, p.k, seed)
    state = {"device": "cpu"}

    def make_samples(n: int) -> list:
        return raven_samples(seed, n, p.values, p.image_size)

    def to_device(device: str) -> None:
        state["device"] = device
        frontend.to(device)
        books.to(device)

    def perception(sample):
        return perceive(frontend, books, sample["panels"].to(state["device"]), p.temperature)

    def to_vectors(pmfs):
        return pmf_to_vector(books, pmfs)

    def detect(v):
        return v, rule_scores(books, v)

    def run_rules(detected):
        v, scores = detected
        return v, execute(books, v, scores.argmax(-1).tolist())

    def choose(executed):
        v, predicted = executed
        return int(select_answer(books, v, predicted).argmax())

    components = [Component("perception", perception, kind="neural", profiler="torch", modules=(frontend,)),
                  Component("pmf_to_vector", to_vectors, kind="symbolic", profiler="torch"),
                  Component("rule_detection", detect, kind="symbolic", profiler="torch"),
                  Component("execution", run_rules, kind="symbolic", profiler="torch"),
                  Component("answer_selection", choose, kind="symbolic", profiler="torch")]
    return Workload(name="nvsa", components=components, make_samples=make_samples, to_device=to_device,
                    info={"d": p.d, "k": p.k, "block_length": p.d // p.k, "image_size": p.image_size,
                          "attribute_values": sizes, "dictionary": int(books.dictionary.shape[0]),
                          "rules": list(RULES), "codeword_zeros": 1 - p.k / p.d,
                          "parameters": sum(t.numel() for t in frontend.parameters())})
