"""What saving every sample as it finishes costs: milliseconds per sample write (the append to the
events and timings logs, and manifest.json) and per workload-end write (every derived table and
table.md; the figures and report.html are drawn once, at the run's end). The writes happen
between samples, outside every timed region, so they lengthen a run but never change a
measurement. Flat per-sample cost (issue 23): the write of the last samples costs what the write
of the first ones does, which the line prints (first tenth against last tenth).

    python benchmarks/sample_writes.py [ROWS] [SAMPLES]     # default 100000 2000
NSC_BENCH_TINY=1 runs it at a tiny size (tests/benchmarks/test_smoke.py)."""
from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd

from nscharacterize.pipeline import _Run
from nscharacterize.profiler.events import events_frame
from nscharacterize.profiler.session import TIMING_COLUMNS
from nscharacterize.rundir.manifest import SCHEMA, Manifest
from nscharacterize.rundir.store import RunDir
from nscharacterize.taxonomy.classifier import Taxonomy


def _sample(s: int, per: int, taxonomy: Taxonomy, rng) -> tuple[pd.DataFrame, pd.DataFrame]:
    ev = events_frame([[{"workload": "w", "component": "c", "kind": "neural", "sample": s, "source": "op",
                         "device": "cpu", "name": f"aten::op{i}", "calls": 1, "self_cpu_us": float(rng.random()),
                         "input_shapes": "[]", "input_dtypes": "float"} for i in range(per)]])
    row = {"workload": "w", "component": "c", "kind": "neural", "profiler": "torch", "device": "cpu",
           "sample": s, "wall_s": 1e-3, "wall_min_s": 1e-3, "wall_max_s": 1e-3, "repeats": 1,
           "profiled_wall_s": 2e-3, "overhead": 2.0}
    return taxonomy.classify_events(ev), pd.DataFrame([row], columns=TIMING_COLUMNS)  # CUDA, memory columns empty


def main(rows: int = 100_000, samples: int = 2_000) -> None:
    taxonomy = Taxonomy()
    rng = np.random.default_rng(0)
    per = max(1, rows // samples)
    frames = [_sample(s, per, taxonomy, rng) for s in range(samples)]
    with tempfile.TemporaryDirectory() as tmp:
        run = _Run(None, "bench.yaml", RunDir.create(tmp, "bench"), taxonomy, "cpu", None, False, None)
        run.manifest = Manifest(schema=SCHEMA, name="bench", status="running", created="now", seed=0,
                                samples=samples, warmup=0, repeats=1, config_hash="0", fingerprint={},
                                checks={}, workloads=[], notes=[])
        cost = []
        for ev, tm in frames:   # what the run does after each sample (pipeline._Run._one's on_sample)
            start = time.perf_counter()
            run._save_sample(ev, tm)
            run.run_dir.write_manifest(run.manifest)
            cost.append(time.perf_counter() - start)
        start = time.perf_counter()
        run._write_all()
        full = time.perf_counter() - start
    tenth = max(1, samples // 10)
    print(f"{per * samples} event rows over {samples} samples: {np.median(cost) * 1e3:.0f} ms per sample write, "
          f"{full:.2f} s per workload-end write (tables, table.md); median sample write "
          f"{np.median(cost[:tenth]) * 1e3:.2f} ms over the first {tenth} samples, "
          f"{np.median(cost[-tenth:]) * 1e3:.2f} ms over the last {tenth}")


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or ([2_000, 2] if os.environ.get("NSC_BENCH_TINY") == "1" else [])
    main(*sizes)
