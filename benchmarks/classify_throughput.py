"""Classification throughput: events per second on a 1,000,000-row table of real op names.

The names come from real profiles (Mask R-CNN at a small size, a Transformer, sparse products and
a Python function table), so the number of distinct keys is realistic.
"""
from __future__ import annotations

import os
import time

import numpy as np
import torch
import torchvision

from nscharacterize.profiler.events import events_frame, tagged
from nscharacterize.profiler.torch_backend import TorchSettings, capture
from nscharacterize.taxonomy.classifier import Taxonomy

TINY = os.environ.get("NSC_BENCH_TINY") == "1"   # a tiny size for tests/benchmarks/test_smoke.py


def real_rows() -> list[dict]:
    torch.manual_seed(0)
    det = torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None,
                                                             min_size=96, max_size=128).eval()
    tr = torch.nn.Transformer(d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                              dim_feedforward=64).eval()
    adj = torch.sparse_coo_tensor(torch.tensor([[0, 1], [1, 0]]), torch.ones(2), (2, 2), check_invariants=False)

    @torch.no_grad()
    def fn(_):
        det([torch.rand(3, 96, 128)])
        tr(torch.rand(5, 1, 32), torch.rand(3, 1, 32))
        return torch.sparse.mm(adj, torch.rand(2, 3))

    return capture(fn, None, "cpu", TorchSettings(with_flops=False, memory=False)).rows


def main(n: int = 1_000_000) -> None:
    rows = real_rows()
    base = events_frame([tagged(rows, workload="w", component="c", kind="neural", sample=0)])
    reps = int(np.ceil(n / len(base)))
    table = base.loc[np.tile(np.arange(len(base)), reps)[:n]].reset_index(drop=True)
    table["sample"] = np.arange(n) // len(base)
    tax = Taxonomy()
    tax.classify_events(table.head(1000))  # warm regex caches
    start = time.perf_counter()
    out = tax.classify_events(table)
    secs = time.perf_counter() - start
    keys = table.groupby(["source", "name", "ancestors", "children"]).ngroups
    print(f"classified {len(out):,} events ({keys} distinct keys) in {secs:.3f} s "
          f"= {len(out) / secs / 1e6:.2f} M events/s")


if __name__ == "__main__":
    main(20_000 if TINY else 1_000_000)
