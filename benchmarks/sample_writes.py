"""What saving every sample as it finishes costs: seconds per sample write (events.parquet,
timings.csv, manifest.json) and per workload-end write (every derived table, table.md, figures),
for a run directory that already holds N event rows. The writes happen between samples, outside
every timed region, so they lengthen a run but never change a measurement."""
from __future__ import annotations

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
        ev = pd.DataFrame({
            "workload": "w", "component": "c", "kind": "neural", "sample": s, "source": "op", "device": "cpu",
            "name": [f"aten::op{i % 50}" for i in range(per)], "ancestors": "", "children": "",
            "calls": 1, "self_cpu_us": rng.random(per), "self_device_us": 0.0, "input_shapes": "[]",
            "input_dtypes": "[]", "flops": 0.0, "bytes": 0.0}).astype(COLUMNS)
        events.append(taxonomy.classify_events(ev))
        timings.append(pd.DataFrame([["w", "c", "neural", "torch", "cpu", s, 1e-3, 1e-3, 1e-3, 1, 2e-3, 2.0, None]],
                                    columns=TIMING_COLUMNS))
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
          f"{full:.2f} s per workload-end write (tables, table.md, figures)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
