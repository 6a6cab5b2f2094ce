"""The tool's own time per run of a config, before and after the trace path (issue 12, item 1).

Own time = the run's wall time minus the workloads' unprofiled passes (warm-up included) and their
profiled calls (the call itself, as measured inside the profiler). What is left is the tool:
profiler start/stop, turning profiles into event rows, classification, attribution and writing.

"before": the original path: rows from ``prof.events()`` with the garbage collector untouched, and
          table.md, every figure and report.html redrawn after each workload.
"events": the old event path (``prof.events()``, collector untouched) with today's drawing schedule:
          what the trace path alone saves.
"after":  the default path: rows from the exported trace with the collector paused, table.md
          rewritten after each workload and the figures and report.html drawn once, at the end.
The two alternate (before, after, before, after, ...); medians are printed, and the event tables
of the last pair are compared (keys, calls, flops, bytes equal; categories equal).

    .venv/bin/python benchmarks/tool_overhead.py configs/ci.yaml --rounds 3
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nscharacterize.config import load_config
from nscharacterize import pipeline
from nscharacterize.profiler import cprofile_backend, session, torch_backend
from nscharacterize.profiler.events import KEY

from cost_curve import timed   # this folder is the script's first path entry

TINY = os.environ.get("NSC_BENCH_TINY") == "1"   # a tiny size for tests/benchmarks/test_smoke.py
_measured = {"unprofiled": 0.0, "profiled": 0.0}


def _instrument() -> None:
    session._unprofiled_pass = timed(session._unprofiled_pass, _measured, "unprofiled")

    for module in (torch_backend, cprofile_backend):
        real = module.capture

        def wrapped(*args, _real=real, **kwargs):
            cap = _real(*args, **kwargs)
            _measured["profiled"] += cap.wall_s
            return cap
        module.capture = wrapped
    session.torch_backend = torch_backend
    session.cprofile_backend = cprofile_backend


def one_run(config_path: str, mode: str, out: Path) -> tuple[float, float, Path]:
    config = load_config(config_path)
    real_settings, real_gc = torch_backend.TorchSettings, torch_backend.gc_paused
    real_render_tables = pipeline.render_tables
    if mode in ("before", "events"):
        class Before(real_settings):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.via_trace = False
        session.TorchSettings = pipeline.TorchSettings = Before
        torch_backend.gc_paused = contextlib.nullcontext
    if mode == "before":
        pipeline.render_tables = pipeline.render
    _measured.update(unprofiled=0.0, profiled=0.0)
    t0 = time.perf_counter()
    try:
        outcome = pipeline.run(config, config_path, out=str(out))
    finally:
        session.TorchSettings = pipeline.TorchSettings = real_settings
        torch_backend.gc_paused = real_gc
        pipeline.render_tables = real_render_tables
    total = time.perf_counter() - t0
    own = total - _measured["unprofiled"] - _measured["profiled"]
    return total, own, outcome.run.path


def compare_tables(before: Path, after: Path) -> str:
    a, b = pd.read_parquet(before / "events.parquet"), pd.read_parquet(after / "events.parquet")
    m = a.merge(b, on=KEY, how="outer", suffixes=("_b", "_a"), indicator=True)
    same_keys = bool((m["_merge"] == "both").all())
    both = m[m["_merge"] == "both"]
    differ = np.zeros(len(both), dtype=bool)
    for c in ("calls", "flops", "bytes"):
        differ |= ~np.isclose(both[c + "_b"].to_numpy(float), both[c + "_a"].to_numpy(float), rtol=0, atol=0)
    cats = (both["category_b"].astype(str) == both["category_a"].astype(str)).all()
    lines = [f"event rows before {len(a)}, after {len(b)}; same keys {same_keys}; "
             f"same calls/flops/bytes {not differ.any()}; same categories {bool(cats)}"]
    for _i, row in both[differ].head(8).iterrows():  # what differs, to see why
        lines.append("  differs: " + ", ".join(f"{k}={row[k]}" for k in ("workload", "component", "name", "input_shapes"))
                     + "; " + ", ".join(f"{c} {row[c + '_b']} -> {row[c + '_a']}" for c in ("calls", "flops", "bytes")))
    for side, frame in (("before", m[m["_merge"] == "left_only"]), ("after", m[m["_merge"] == "right_only"])):
        for _i, row in frame.head(4).iterrows():
            lines.append(f"  only {side}: " + ", ".join(f"{k}={row[k]}" for k in ("workload", "component", "name", "input_shapes")))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?", default="configs/compat.yaml" if TINY else "configs/ci.yaml")
    ap.add_argument("--rounds", type=int, default=1 if TINY else 3)
    args = ap.parse_args()
    _instrument()
    modes = ("before", "events", "after")
    results = {m: [] for m in modes}
    last = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            for mode in modes:
                total, own, path = one_run(args.config, mode, Path(tmp) / f"{mode}{i}")
                results[mode].append((total, own))
                last[mode] = path
                print(f"round {i + 1} {mode:<6}: run {total:7.2f} s, tool's own {own:7.2f} s", flush=True)
        print()
        for mode in modes:
            tot = statistics.median(t for t, _o in results[mode])
            own = statistics.median(o for _t, o in results[mode])
            print(f"{mode:<6} median of {args.rounds}: run {tot:7.2f} s, tool's own {own:7.2f} s")
        ob = statistics.median(o for _t, o in results["before"])
        oe = statistics.median(o for _t, o in results["events"])
        oa = statistics.median(o for _t, o in results["after"])
        print(f"tool's own time after / before: {oa / ob:.2f} (the drawing schedule alone: events / before "
              f"{oe / ob:.2f}; the trace path alone: after / events {oa / oe:.2f})")
        print(compare_tables(last["before"], last["after"]))


if __name__ == "__main__":
    sys.exit(main())
