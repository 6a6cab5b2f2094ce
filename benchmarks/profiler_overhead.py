"""Profiler overhead factor (profiled / unprofiled wall) and the add-up error on real modules."""
from __future__ import annotations

import os

import torch
import torchvision

from nscharacterize.profiler.session import SessionSettings, profile_workload
from nscharacterize.attribution.aggregate import attribute
from nscharacterize.taxonomy.classifier import Taxonomy
from nscharacterize.workloads.base import module_workload
from nscharacterize.workloads.registry import get_spec

TINY = os.environ.get("NSC_BENCH_TINY") == "1"   # a tiny size for tests/benchmarks/test_smoke.py


def report(workload, samples: int = 1 if TINY else 5) -> None:
    warmup, repeats = (1, 1) if TINY else (2, 5)
    prof = profile_workload(workload, workload.name, SessionSettings(samples=samples, warmup=warmup, repeats=repeats))
    att = attribute(Taxonomy().classify_events(prof.events), prof.timings)
    t = prof.timings.groupby("component", sort=False).agg(wall=("wall_s", "mean"), prof=("profiled_wall_s", "mean"),
                                                           overhead=("overhead", "median"))
    err = att.checks.groupby("component", sort=False)["addup_error_s"].max()
    for comp, r in t.iterrows():
        print(f"{workload.name:>14} / {comp:<10} wall {r['wall'] * 1e3:9.3f} ms  profiled {r['prof'] * 1e3:9.3f} ms  "
              f"overhead {r['overhead']:5.2f}x  max add-up error {err[comp]:.1e} s")


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(weights=None).eval()
    side, width = (32, 32) if TINY else (224, 256)
    report(module_workload("resnet18", resnet, lambda i: torch.rand(1, 3, side, side)))
    tr = torch.nn.Transformer(d_model=width, nhead=8, num_encoder_layers=2, num_decoder_layers=2).eval()
    report(module_workload("transformer", _Seq2Seq(tr), lambda i: torch.rand(20, 1, width)))
    spec = get_spec("mlp-demo")
    report(spec.build(spec.params().model_dump(), seed=0))


class _Seq2Seq(torch.nn.Module):
    def __init__(self, tr):
        super().__init__()
        self.tr = tr

    def forward(self, src):
        return self.tr(src, src[:10])


if __name__ == "__main__":
    main()
