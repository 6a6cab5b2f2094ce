"""Wall time of IEP's execution engine in the three module schedules, interleaved on the same batches.

    python benchmarks/nmn_schedules.py [--batch-sizes 2 8 32] [--rounds 5] [--module-dim 128]

For each batch size, one network and one batch (IEP sizes: 128-channel modules on 1024 x 14 x 14
features, synthetic features); the modes run round-robin, ``rounds`` times each, so a slow spell of
a shared machine hits all three alike. Prints, per mode, the module calls, the median wall of the
whole engine, the median of the modules alone (engine minus stem and classifier, timed on the same
batch) and the speedups over per_example. Unprofiled: this measures runtime only.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from nscharacterize.workloads.nmn import NMNParams, build_nmn, make_batch
from nscharacterize.workloads.nmn import programs as prog

TINY = os.environ.get("NSC_BENCH_TINY") == "1"   # a tiny size for tests/benchmarks/test_smoke.py


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[2] if TINY else [2, 8, 32])
    ap.add_argument("--rounds", type=int, default=1 if TINY else 5)
    ap.add_argument("--module-dim", type=int, default=16 if TINY else 128)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}, module_dim {args.module_dim}, rounds {args.rounds}")
    for b in args.batch_sizes:
        p = NMNParams(batch_size=b, features="synthetic", module_dim=args.module_dim)
        net = build_nmn(p, seed=0).net
        batch = make_batch(0, 0, p)
        feats, programs = torch.from_numpy(batch["features"]), batch["programs"]
        counts = prog.call_counts(programs)
        walls: dict[str, list[float]] = {m: [] for m in prog.MODES}
        fixed: list[float] = []
        with torch.no_grad():
            roots = torch.zeros(b, args.module_dim, p.feature_size, p.feature_size)
            for m in prog.MODES:                                          # warm-up
                net.execute(feats, programs, m)
            for r in range(args.rounds):
                order = prog.MODES[r % 3:] + prog.MODES[:r % 3]
                for m in order:
                    walls[m].append(timed(lambda: net.execute(feats, programs, m)))
                fixed.append(timed(lambda: (net.stem(feats), net.classifier(roots))))
        stem_cls = statistics.median(fixed)
        print(f"\nbatch {b}: s={counts['s']} p={counts['p']} d={counts['d']}; bounds b*s={counts['bound_bs']} "
              f"p*s={counts['bound_ps']} p*d={counts['bound_pd']}; stem+classifier {stem_cls * 1e3:.1f} ms")
        base = statistics.median(walls["per_example"])
        base_mod = base - stem_cls
        for m in prog.MODES:
            w = statistics.median(walls[m])
            print(f"  {m:<14} calls {counts['calls'][m]:4d}  engine {w * 1e3:8.1f} ms ({base / w:4.2f}x)  "
                  f"modules {(w - stem_cls) * 1e3:8.1f} ms ({base_mod / max(w - stem_cls, 1e-9):4.2f}x)  "
                  f"spread {(max(walls[m]) - min(walls[m])) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
