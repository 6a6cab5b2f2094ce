"""Trace import speed and GPU busy/idle beside HolisticTraceAnalysis (HTA), side by side in one run.

Each measurement runs in a fresh subprocess, the two tools alternating; peak memory is that of
the subprocess's whole tree (import-trace's decode worker, HTA's pool), sampled here. HTA is not a dependency: install it in a scratch venv and pass its python,
    python3 -m venv /tmp/hta && /tmp/hta/bin/pip install HolisticTraceAnalysis
    .venv/bin/python benchmarks/import_vs_hta.py --hta-python /tmp/hta/bin/python
Prints, for the largest trace (or ``--trace``), the wall time and peak RSS of ``chrome_trace.load`` +
the timeline walk and event rows (what ``import-trace`` does per file before classification), and of
the whole ``import-trace`` command with its imports, figures and page, against
``TraceAnalysis(trace_dir=...)``; then, for every trace, GPU busy/idle as a share of the span from
this tool and HTA's ``get_temporal_breakdown`` (docs/gpu.md explains where they differ). Without
HTA's python the HTA columns say so and this tool's numbers are printed alone.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = os.environ.get("NSC_BENCH_TINY") == "1"   # a tiny size for tests/benchmarks/test_smoke.py
# The project's shared/ folder lies beside the checkout (or beside the folder of worktrees).
DEFAULT_TRACES = next((p / "shared" / "fixtures" / "gpu-h100" / "traces" for p in ROOT.parents
                       if (p / "shared" / "fixtures" / "gpu-h100" / "traces").is_dir()), ROOT / "tests" / "fixtures" / "gpu-h100")

OURS = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from nscharacterize.profiler import chrome_trace, trace_events
t1 = time.perf_counter()
trace = chrome_trace.load(sys.argv[1])
rows, facts = trace_events.rows(trace, "cuda")
t2 = time.perf_counter()
# The same busy time under HTA's conventions: start rounded up and end down to whole microseconds,
# as a share of first device start to last device end (HTA's "kernel time").
import numpy as np
from nscharacterize.profiler.timeline import union_length
d = trace.device
s, e = np.ceil(d["ts"].to_numpy()), np.floor(d["end"].to_numpy())
hta_conv = 100 * union_length(s, np.maximum(e, s)) / (e.max() - s.min()) if len(d) else float("nan")
print(json.dumps({"hta_convention_busy_pct": hta_conv, "seconds": t2 - t1, "import_s": t1 - t0, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "busy_us": facts.gpu_busy_s * 1e6, "span_us": facts.span_s * 1e6, "rows": len(rows)}))
"""

# The busy share under all four of HTA's conventions, in a process of its own: it parses the whole
# file again with the standard library, which must not count in the reader's time or peak memory.
HTA_FOUR = r"""
import gzip, json, math, re, sys
import numpy as np
from nscharacterize.profiler.timeline import union_length


def hta_four_conventions_busy_pct(path):
    # The busy share under all four of HTA's conventions (docs/gpu.md), recomputed from the file's
    # raw events rather than from this tool's tables: HTA's GPU events are those with a stream and a
    # correlation (or named Event/Context Sync); with two or more ProfilerStep names, host events
    # that start in the last step are dropped, and GPU events with them; the busy time is the union
    # of every event left with a stream (host events that record one included), rounded to whole
    # microseconds when the trace has nanosecond resolution, over first start to last end.
    with (gzip.open if str(path).endswith(".gz") else open)(path, "rt") as f:
        raw = json.load(f)
    raw = raw.get("traceEvents", []) if isinstance(raw, dict) else raw
    ev = []
    for x in raw:
        if not isinstance(x, dict) or x.get("ph") != "X" or not isinstance(x.get("ts"), (int, float)):
            continue
        args = x.get("args") if isinstance(x.get("args"), dict) else {}
        stream, corr = args.get("stream", -1), args.get("correlation", -1)
        ev.append((str(x.get("name", "")), x["ts"], x["ts"] + (x.get("dur") or 0),
                   stream if isinstance(stream, int) else -1, corr if isinstance(corr, int) else -1))
    if any(isinstance(t, float) for _n, t, _e, _s, _c in ev):   # nanosecond resolution: rounded
        ev = [(n, math.ceil(t), math.floor(e), st, c) for n, t, e, st, c in ev]
    is_gpu = [(st >= 0 and c >= 0) or n in ("Event Sync", "Context Sync") for n, _t, _e, st, c in ev]
    steps = [(n, t) for (n, t, _e, _s, _c), g in zip(ev, is_gpu) if not g and re.match(r"ProfilerStep#\d+", n)]
    if len({n for n, _t in steps}) >= 2:
        last = max(t for _n, t in steps)
        host = [x for x, g in zip(ev, is_gpu) if not g and x[1] < last]
        kept = {x[4] for x in host}
        ev = host + [x for x, g in zip(ev, is_gpu) if g and x[4] in kept]
    busy = [(t, e) for _n, t, e, st, _c in ev if st != -1]
    if not busy:
        return float("nan")
    s4, e4 = np.array([t for t, _e in busy], float), np.array([e for _t, e in busy], float)
    return 100 * union_length(s4, np.maximum(e4, s4)) / (e4.max() - s4.min())


print(json.dumps({"hta_four_conventions_pct": hta_four_conventions_busy_pct(sys.argv[1])}))
"""

# The whole `nscharacterize import-trace` command (imports, reading, classification, attribution,
# the run directory, table.md, figures and report.html) as a user runs it: the CLI's main, nothing
# imported before it (the CLI starts decoding the first file in a worker while it imports pandas,
# nscharacterize/profiler/trace_prefetch.py). Its peak memory is that of the whole process tree
# (``tree_peak_mib``, sampled by this script), the worker's included.
COMMAND = r"""
import contextlib, io, json, resource, sys, time
t0 = time.perf_counter()
from nscharacterize.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    rc = main(["import-trace", *sys.argv[2:], "--out", sys.argv[1]])
seconds = time.perf_counter() - t0
print(json.dumps({"rc": rc, "seconds": seconds, "torch": "torch" in sys.modules,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "worker_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""

# The same command with the time spent drawing figures and the page (reports/run_report.py
# render) measured apart: the import of nscharacterize.import_trace it needs to do so comes
# before the CLI starts its decode worker, so its whole time is not the command's.
RENDER = r"""
import contextlib, io, json, sys, time
import nscharacterize.import_trace as it
from nscharacterize.cli import main
spent = {}
def timed(*args, _render=it.render, **kwargs):
    s = time.perf_counter()
    out = _render(*args, **kwargs)
    spent["render_s"] = time.perf_counter() - s
    return out
it.render = timed
with contextlib.redirect_stdout(io.StringIO()):
    main(["import-trace", *sys.argv[2:], "--out", sys.argv[1]])
print(json.dumps({"render_s": spent.get("render_s", 0.0)}))
"""

HTA = r"""
import json, logging, resource, sys, time
logging.disable(logging.CRITICAL)
t0 = time.perf_counter()
from hta.trace_analysis import TraceAnalysis
t1 = time.perf_counter()
try:
    ta = TraceAnalysis(trace_dir=sys.argv[1])
except Exception as exc:  # HTA refuses some traces (no GPU kernels, an unknown device); say which
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:100]}))
    sys.exit(0)
t2 = time.perf_counter()
out = {"seconds": t2 - t1, "import_s": t1 - t0, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
if sys.argv[2] == "breakdown":
    try:
        bd = ta.get_temporal_breakdown(visualize=False)
        row = bd.iloc[0].to_dict()
        out.update({k: float(v) for k, v in row.items() if isinstance(v, (int, float))})
    except Exception as exc:  # HTA fails on some traces; say so instead of stopping
        out["error"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


def run(python: str, code: str, *args: str) -> dict:
    """Runs ``code`` in a fresh ``python``; its JSON line, with ``tree_peak_mib``: the peak of the
    summed RSS of the process and its child processes, sampled every 5 ms (an upper bound on what
    they held together: pages a forked worker shares with its parent count twice). The sampling
    reads one small /proc file per process of the tree, and looks for new child processes every
    25 ms, so that it takes little of the CPU the measured processes share."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([python, "-c", code, *args], stdout=out, stderr=err, text=True, cwd=ROOT)
        peak, tree, polls = 0, {proc.pid}, 0
        while proc.poll() is None:
            if polls % 5 == 0:
                tree |= descendants(proc.pid)
            peak = max(peak, sum(rss(pid) for pid in tree))
            polls += 1
            time.sleep(0.005)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{python} failed:\n{err.read()[-2000:]}")
        return dict(json.loads(out.read().strip().splitlines()[-1]), tree_peak_mib=peak / 2**20)


PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss(pid: int) -> int:
    """Bytes resident in process ``pid`` now (Linux /proc; 0 elsewhere or once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def descendants(root: int) -> set[int]:
    """The processes started by ``root``, and by them (Linux /proc; empty elsewhere)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):   # gone meanwhile
                continue
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree - {root}


def hta_dir(*traces: Path) -> Path:
    """HTA reads every trace of a folder (one per rank): give it a folder holding only these."""
    folder = Path(tempfile.mkdtemp(prefix="hta-"))
    for trace in traces:
        shutil.copy(trace, folder / trace.name)
    return folder


def median(results: list[dict], key: str) -> float:
    """The median of ``key`` over repeated measurements."""
    return statistics.median(r[key] for r in results)


def hta_error(results: list[dict]) -> str | None:
    """The error of the first HTA run that could not load its traces, if any did."""
    return next((r["error"] for r in results if "error" in r), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hta-python", default="/tmp/hta/bin/python", help="'' to time this tool alone")
    ap.add_argument("--traces", type=Path, default=DEFAULT_TRACES, help="folder of .json.gz traces")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-breakdown", action="store_true")
    ap.add_argument("--only-breakdown", action="store_true")
    ap.add_argument("--trace", type=Path, help="the trace to time (default: the largest in --traces)")
    ap.add_argument("--every", type=Path, help="time every trace of this folder instead (a sub-folder is one job: its "
                    "rank files imported together and loaded together by HTA), e.g. the shared external-traces/")
    if TINY:   # the repository's small H100 traces, one repeat
        ap.set_defaults(traces=ROOT / "tests" / "fixtures" / "gpu-h100", repeats=1)
    args = ap.parse_args()
    traces = sorted(args.traces.glob("*.json*"), key=lambda p: p.stat().st_size)
    if TINY:
        traces = traces[:2]
    if not Path(args.hta_python).exists():
        print(f"HTA: no python at {args.hta_python} (see the docstring): this tool's numbers alone")
        args.hta_python = None
    if args.every:
        every(args.every, args)
        return
    if not traces:
        raise SystemExit(f"no traces in {args.traces}")
    if not args.only_breakdown:
        load_side_by_side(args.trace or traces[-1], args)
    if not args.skip_breakdown:
        breakdowns(traces, args)


def load_side_by_side(largest: Path, args) -> None:
    folder = hta_dir(largest)
    out = Path(tempfile.mkdtemp(prefix="nsc-import-"))
    ours, whole, render, hta = [], [], [], []
    for _ in range(args.repeats):
        ours.append(run(sys.executable, OURS, str(largest)))
        whole.append(run(sys.executable, COMMAND, str(out), str(largest)))
        render.append(run(sys.executable, RENDER, str(out), str(largest)))
        if args.hta_python:
            hta.append(run(args.hta_python, HTA, str(folder), "load"))
    shutil.rmtree(folder)
    shutil.rmtree(out)
    if hta_error(hta):
        print(f"HTA could not load {largest.name}: {hta_error(hta)}")
        hta = []
    json_mib = json_size(largest) / 2**20
    print(f"largest trace: {largest.name} ({largest.stat().st_size / 2**20:.1f} MiB gzipped, {json_mib:.0f} MiB of JSON), "
          f"{args.repeats} runs each, medians")
    print(f"  nscharacterize load + timeline + rows:  {median(ours, 'seconds'):7.2f} s   peak RSS {median(ours, 'rss_mib'):7.0f} MiB")
    print(f"  nscharacterize import-trace, whole:     {median(whole, 'seconds'):7.2f} s   peak RSS {median(whole, 'rss_mib'):7.0f} MiB"
          f" (decode worker {median(whole, 'worker_rss_mib'):.0f} MiB; both together, sampled: {median(whole, 'tree_peak_mib'):.0f} MiB)"
          f"   (figures and page {median(render, 'render_s'):.2f} s; torch imported: {any(r['torch'] for r in whole)})")
    if hta:
        print(f"  HTA TraceAnalysis load (no import):     {median(hta, 'seconds'):7.2f} s   peak RSS {median(hta, 'rss_mib'):7.0f} MiB"
              f" (its processes together, sampled: {median(hta, 'tree_peak_mib'):.0f} MiB)")
        print(f"  speed-up, reader: {median(hta, 'seconds') / median(ours, 'seconds'):.1f}x; "
              f"whole command: {median(hta, 'seconds') / median(whole, 'seconds'):.1f}x")


def every(root: Path, args) -> None:
    """Per trace (a file, or a folder of one job's rank files) of ``root``: the whole import-trace
    command (its imports included) against HTA's ``TraceAnalysis`` load of the same files (its
    imports apart), alternating, medians of ``--repeats``; a Markdown table."""
    jobs = sorted([p for p in root.iterdir() if p.is_dir() or ".json" in p.name])
    print("| trace | files | MiB of JSON | import-trace, whole (s) | peak RSS (MiB) | HTA load (s) | HTA's imports (s) "
          "| HTA peak RSS (MiB) | HTA load / ours |\n|---|---|---|---|---|---|---|---|---|", flush=True)
    # peak RSS: of the process tree (the command and its decode worker; HTA and any pool it starts),
    # the sum sampled every 5 ms
    for job in jobs:
        files = sorted(f for f in job.iterdir() if ".json" in f.name) if job.is_dir() else [job]
        if not files:
            continue
        folder = hta_dir(*files)
        out = Path(tempfile.mkdtemp(prefix="nsc-import-"))
        whole, hta = [], []
        for _ in range(args.repeats):
            whole.append(run(sys.executable, COMMAND, str(out), *map(str, files)))
            if args.hta_python:
                hta.append(run(args.hta_python, HTA, str(folder), "load"))
        shutil.rmtree(folder)
        shutil.rmtree(out)
        mib = sum(json_size(f) for f in files) / 2**20
        ours = f"{median(whole, 'seconds'):.2f} | {median(whole, 'tree_peak_mib'):.0f}"
        if not hta:
            theirs = "not run | | | "
        elif hta_error(hta):
            theirs = f"failed: {hta_error(hta)} | | | "
        else:
            theirs = (f"{median(hta, 'seconds'):.2f} | {median(hta, 'import_s'):.2f} | {median(hta, 'tree_peak_mib'):.0f} | "
                      f"{median(hta, 'seconds') / median(whole, 'seconds'):.1f}x")
        print(f"| {job.name.split('.json')[0]} | {len(files)} | {mib:.1f} | {ours} | {theirs} |", flush=True)


def json_size(path: Path) -> int:
    import gzip

    raw = path.read_bytes()
    return len(gzip.decompress(raw)) if raw[:2] == b"\x1f\x8b" else len(raw)


def breakdowns(traces: list[Path], args) -> None:
    print("\nGPU busy/idle per trace (% of span): this tool vs HTA get_temporal_breakdown")
    print("  (busy, conventions 1-2: this tool's device intervals, HTA's denominator and rounding; busy, all 4: "
          "recomputed from the raw events with HTA's step filter and its stream rule too)")
    print(f"  {'trace':<36} {'busy':>6} {'idle':>6} {'busy, conv. 1-2':>15} {'busy, all 4':>11} | {'HTA idle':>8} "
          f"{'HTA compute':>11} {'HTA non-compute':>15}")
    for trace in traces:
        mine = {**run(sys.executable, OURS, str(trace)), **run(sys.executable, HTA_FOUR, str(trace))}
        if args.hta_python:
            folder = hta_dir(trace)
            theirs = run(args.hta_python, HTA, str(folder), "breakdown")
            shutil.rmtree(folder)
        else:
            theirs = {"error": "not installed"}
        busy = 100 * mine["busy_us"] / mine["span_us"]
        if "error" in theirs:
            print(f"  {trace.name.split('.json')[0]:<36} {busy:6.1f} {100 - busy:6.1f} "
                  f"{mine['hta_convention_busy_pct']:15.1f} {mine['hta_four_conventions_pct']:11.1f} | "
                  f"HTA failed: {theirs['error'][:60]}")
            continue
        print(f"  {trace.name.split('.json')[0]:<36} {busy:6.1f} {100 - busy:6.1f} "
              f"{mine['hta_convention_busy_pct']:15.1f} {mine['hta_four_conventions_pct']:11.1f} | "
              f"{theirs.get('idle_time_pctg', float('nan')):8.1f} {theirs.get('compute_time_pctg', float('nan')):11.1f} "
              f"{theirs.get('non_compute_time_pctg', float('nan')):15.1f}")


if __name__ == "__main__":
    main()
