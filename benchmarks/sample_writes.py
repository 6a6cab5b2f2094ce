"""What saving every sample as it finishes costs: seconds per sample write (events.parquet,
timings.csv, manifest.json) and per workload-end write (every derived table and table.md; the
figures and report.html are drawn once, at the run's end), for a run directory that already holds
N event rows. The writes happen between samples, outside every timed region, so they lengthen a
run but never change a measurement.

    python benchmarks/sample_writes.py [ROWS] [SAMPLES]     # default 100000 20
NSC_BENCH_TINY=1 runs it at a tiny size (tests/benchmarks/test_smoke.py)."""
from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd

from nscharacterize.pipeline import _Run
from nscharacterize.profiler.events import COLUMNS
from nscharacterize.profiler.session import TIMING_COLUMNS
from nscharacterize.rundir.store import RunDir
from nscharacterize.taxonomy.classifier import Taxonomy


def _fake(rows: int, samples: int, taxonomy: Taxonomy) -> tuple[list, list]:
    rng = np.random.default_rng(0)
    per = max(1, rows // samples)
    events, timings = [], []
    for s in range(samples):
        # every column of the events table, zero or empty unless set here
        blank = {c: "" if kind == "string" else 0 for c, kind in COLUMNS.items()}
        ev = pd.DataFrame({
            **blank, "workload": "w", "component": "c", "kind": "neural", "sample": s, "source": "op",
            "device": "cpu", "name": [f"aten::op{i % 50}" for i in range(per)], "calls": 1,
            "self_cpu_us": rng.random(per), "input_shapes": "[]", "input_dtypes": "[]"}).astype(COLUMNS)
        events.append(taxonomy.classify_events(ev))
        row = {"workload": "w", "component": "c", "kind": "neural", "profiler": "torch", "device": "cpu",
               "sample": s, "wall_s": 1e-3, "wall_min_s": 1e-3, "wall_max_s": 1e-3, "repeats": 1,
               "profiled_wall_s": 2e-3, "overhead": 2.0}
        timings.append(pd.DataFrame([row], columns=TIMING_COLUMNS))   # the CUDA and memory columns empty
    return events, timings


def main(rows: int = 100_000, samples: int = 20) -> None:
    taxonomy = Taxonomy()
    with tempfile.TemporaryDirectory() as tmp:
        run = _Run(None, "bench.yaml", RunDir.create(tmp, "bench"), taxonomy, "cpu", None, False, None)
        run.manifest = {"schema": 1, "name": "bench", "status": "running", "created": "now", "seed": 0,
                        "samples": samples, "warmup": 0, "repeats": 1, "config_hash": "0", "fingerprint": {},
                        "checks": {}, "workloads": []}
        run.events, run.timings = _fake(rows, samples, taxonomy)
        start = time.perf_counter()
        for _ in range(3):
            run._write_raw()
        raw = (time.perf_counter() - start) / 3
        start = time.perf_counter()
        run._write_all()
        full = time.perf_counter() - start
    print(f"{rows} event rows over {samples} samples: {raw * 1e3:.0f} ms per sample write, "
          f"{full:.2f} s per workload-end write (tables, table.md)")


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or ([2_000, 2] if os.environ.get("NSC_BENCH_TINY") == "1" else [])
    main(*sizes)
