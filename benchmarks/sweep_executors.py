"""The same 4-point sweep, serially and on a local Ray instance with 2 workers, side by side.

Prints each mode's wall time, their ratio, Ray's start-up cost, and the fitted exponents of both
modes (the same seeds give the same work, so the exponents differ only by timing noise).

    python benchmarks/sweep_executors.py [--config configs/sweeps/nlm-small.yaml] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TINY = os.environ.get("NSC_BENCH_TINY") == "1"   # a tiny size for tests/benchmarks/test_smoke.py
# Two points of one small NLM workload, one sample each: the smoke test's sweep.
TINY_CONFIG = """name: sweep-tiny
seed: 0
device: cpu
threads: 1
samples: 1
warmup: 0
repeats: 1
workloads:
  - workload: nlm-sort
sweep:
  parameters: {n: [3, 4]}
"""


def run(mode: str, config: str, out: Path, workers: int) -> tuple[float, Path]:
    cmd = [sys.executable, "-m", "nscharacterize.cli", "sweep", config, "--out", str(out), "--quiet"]
    if mode == "ray":
        cmd += ["--executor", "ray", "--ray-cpus", str(workers)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{mode} sweep failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return wall, Path(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/sweeps/nlm-small.yaml")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if TINY:
            args.config = str(Path(tmp) / "sweep-tiny.yaml")
            Path(args.config).write_text(TINY_CONFIG)
        serial_s, serial_dir = run("serial", args.config, Path(tmp) / "serial", args.workers)
        ray_s, ray_dir = run("ray", args.config, Path(tmp) / "ray", args.workers)
        startup = json.loads((ray_dir / "sweep.json").read_text()).get("ray_startup_s")
        print(f"config: {args.config}")
        print(f"serial: {serial_s:.1f} s   ray ({args.workers} workers): {ray_s:.1f} s   "
              f"serial / ray = {serial_s / ray_s:.2f}x   Ray start-up: {startup:.1f} s")
        cols = ["workload", "component", "category", "b", "b_lo", "b_hi"]
        s = pd.read_csv(serial_dir / "scaling.csv")
        r = pd.read_csv(ray_dir / "scaling.csv")
        both = s[s["axis"] == "total"][cols].merge(r[r["axis"] == "total"][cols],
                                                   on=["workload", "component", "category"],
                                                   suffixes=("_serial", "_ray"))
        print(both.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
