"""Per real trace: the share of GPU-busy time in Other and in Communication, with this checkout's
code and (``--before DIR``) with another checkout's, side by side in one run.

    .venv/bin/python benchmarks/external_traces.py --before /path/to/older/checkout

Each (checkout, trace) runs in a fresh subprocess with that checkout first on PYTHONPATH: the
reader, the timeline walk and the classifier of that code, on the same trace. Busy shares come
from the device events' ``gpu_busy_us`` (overlapping streams counted once), by category. Traces:
every folder of the shared fixtures' external-traces/ (several files of a folder are summed) and,
with ``--h100``, the H100 traces; the real traces kept in tests/fixtures/external-traces/ (the
serving-stack traces T16, T17); with ``--extra DIR``, every folder of DIR. At the tiny size
(``NSC_BENCH_TINY=1``) the one tiny external trace kept in tests/fixtures/external-traces/ (T13).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = os.environ.get("NSC_BENCH_TINY") == "1"   # tests/benchmarks/test_smoke.py: the one tiny trace
SHARED = next((p / "shared" / "fixtures" for p in ROOT.parents if (p / "shared" / "fixtures").is_dir()), None)

MEASURE = r"""
import json, sys
from nscharacterize.profiler import chrome_trace, trace_events
from nscharacterize.profiler.events import events_frame, tagged
from nscharacterize.taxonomy.classifier import Taxonomy
busy = {}
for path in sys.argv[1:]:
    t = chrome_trace.load(path)
    rows, _ = trace_events.rows(t, "cuda" if len(t.device) else "cpu")
    ev = Taxonomy().classify_events(events_frame([tagged(rows, workload="w", component="c", kind="k", sample=0)]))
    k = ev[ev["source"] == "kernel"]
    for cat, v in k.groupby("category", observed=True)["gpu_busy_us"].sum().items():
        busy[str(cat)] = busy.get(str(cat), 0.0) + float(v)
print(json.dumps(busy))
"""


def measure(code_root: Path, files: list[Path]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code_root))
    proc = subprocess.run([sys.executable, "-c", MEASURE, *map(str, files)], capture_output=True, text=True, env=env,
                          cwd=code_root)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1][:80]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def share(busy: dict, category: str) -> str:
    if "error" in busy:
        return "failed"
    total = sum(busy.values())
    return "-" if total <= 0 else f"{100 * busy.get(category, 0.0) / total:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, help="another checkout (its root folder) to compare with")
    ap.add_argument("--h100", action="store_true", help="also the H100 traces")
    ap.add_argument("--only", default="", help="only folders whose name contains this")
    ap.add_argument("--extra", type=Path, action="append", default=[],
                    help="also every folder of this one (a folder per import, like external-traces/); repeatable")
    args = ap.parse_args()
    roots = [ROOT / "tests" / "fixtures" / "external-traces"] if TINY or SHARED is None else \
        [SHARED / "external-traces", ROOT / "tests" / "fixtures" / "external-traces"]
    folders: dict[str, Path] = {}
    for root in roots + args.extra:   # a folder of the shared fixtures and its copy in tests/ are one
        for d in sorted(root.iterdir()):
            if d.is_dir() and any(d.glob("*.json*")):
                folders.setdefault(d.name, d)
    groups = [(name, sorted(d.glob("*.json*"))) for name, d in folders.items()]
    if args.h100 and SHARED is not None:
        groups += [(p.name.split(".json")[0], [p]) for p in sorted((SHARED / "gpu-h100" / "traces").glob("*.json*"))]
    groups = [g for g in groups if (args.only or ("T13" if TINY else "")) in g[0]]
    head = "| trace | busy (ms) | Other % of busy, before | Other % of busy, after | Communication % of busy |"
    print(head)
    print("|---|---|---|---|---|")
    for name, files in groups:
        after = measure(ROOT, files)
        before = measure(args.before, files) if args.before else {}
        total = sum(v for k, v in after.items() if k != "error")
        print(f"| {name} | {total / 1e3:.1f} | {share(before, 'other') if args.before else '-'} | "
              f"{share(after, 'other')} | {share(after, 'communication')} |", flush=True)


if __name__ == "__main__":
    main()
