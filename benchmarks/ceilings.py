"""Prints this machine's roofline ceilings, measured afresh (the cache is bypassed), a few times.

Usage: python benchmarks/ceilings.py [--threads N] [--rounds R] [--dtypes float32,float64]
Shows the spread between rounds (on a shared machine the ceilings move with the load) and how
long one measurement takes, which a run pays once per machine configuration.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from nscharacterize.profiler.ceilings import measure_bandwidth, measure_gemm

TINY = os.environ.get("NSC_BENCH_TINY") == "1"   # a tiny size for tests/benchmarks/test_smoke.py


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1 if TINY else 3)
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"device {args.device}, {args.threads} thread(s), torch {torch.__version__}")
    for r in range(args.rounds):
        start = time.perf_counter()
        peaks = {d: measure_gemm(args.device, d) for d in args.dtypes.split(",")}
        bw = measure_bandwidth(args.device)
        took = time.perf_counter() - start
        print(f"round {r}: " + ", ".join(f"peak {d} {v / 1e9:.2f} GFLOP/s" for d, v in peaks.items())
              + f", bandwidth {bw / 1e9:.2f} GB/s, measured in {took:.2f} s")


if __name__ == "__main__":
    main()
