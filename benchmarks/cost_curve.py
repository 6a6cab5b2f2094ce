"""The tool's cost against the number of samples, and its share of a ci.yaml run, for this tree
and another one (a baseline commit), measured side by side in one run (issue 23).

For each size N of a small workload (mlp-demo at its smoke size, 1 warm-up, 1 repeat) and for
configs/ci.yaml, each tree runs ``nscharacterize run`` in a fresh process of its own (trees
alternate, so load from other processes hits both alike), instrumented from outside:

* workload: building the workloads' models (``registry.build``: random weights, synthetic data),
  the unprofiled passes (warm-up included), the profiled calls as measured inside the profiler
  (``capture``, or ``timed_in_range`` on the spooled path) and the models' part of the metrics
  pass (``opmetrics.measure_workload``: memory per category, one more pass per sample, under a
  dispatch mode): what running the models would cost without the tool (``build`` and the metrics
  pass are also printed alone, and the share with them counted as the tool's). The metrics pass's
  models are counted at the speed of the same workload's unprofiled passes (their median pass,
  times the samples it measures): the dispatch mode's own overhead stays the tool's;
* tool in loop: the sample loop (``profile_workload``) minus the workload, per sample: profiler
  start/stop, trace parsing, event rows, classification, attribution and saving;
* fixed: the rest of the run's wall time (set-up, the metrics pass, the end: tables, roofline,
  report.html), less the build;
* torch: importing torch, timed alone before the tool's own imports. It is the workload's: its
  models import torch with or without the tool (as building them imports torchvision, which the
  build's time already counts);
* share: (imports + run - torch's import - build - workload) / (imports + run), the tool's share
  of the whole process; in brackets, with torch's import, the build and the metrics pass's models
  counted as the tool's;
* peak RSS of the process (``ru_maxrss``), imports of torch included.

    .venv/bin/python benchmarks/cost_curve.py --base /tmp/cost-base --sizes 10,100,1000,10000
        [--base-max 1000] [--ci configs/ci.yaml] [--check 100,800]

NSC_BENCH_TINY=1 (no options) runs 2 samples of this tree alone (tests/benchmarks/test_smoke.py).
``--base`` is a checkout of the baseline (``git worktree add /tmp/cost-base 25d781e``); its
runs are skipped above ``--base-max`` samples (its cost grows with the square of N: hours at
10,000). ``--check A,B`` adds runs of A and B samples of this tree and prints B's wall over A's.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SMALL = {"name": "curve", "seed": 0, "device": "cpu", "threads": 1, "samples": 10, "warmup": 1, "repeats": 1,
         "workloads": [{"workload": "mlp-demo", "params": {"objects": 6, "hidden": 16}}]}


# ---- the child: one instrumented run in a process of its own ----------------------------------
def timed(real, measured: dict, key: str):
    """``real``, adding the seconds each call takes to ``measured[key]`` (also benchmarks/tool_overhead.py's)."""
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            measured[key] += time.perf_counter() - t0
    return wrapper


def child(config: str, samples: int | None, out: str) -> dict:
    """Runs ``config`` with whatever ``nscharacterize`` is first on sys.path; returns the numbers."""
    t_start = time.perf_counter()
    import torch  # noqa: F401  (timed alone: the workload's models import it with or without the tool)
    torch_s = time.perf_counter() - t_start
    from nscharacterize import pipeline
    from nscharacterize.config import load_config
    from nscharacterize.profiler import cprofile_backend, opmetrics, session, torch_backend
    from nscharacterize.workloads import registry

    measured = {"workload": 0.0, "loop": 0.0, "build": 0.0, "metrics": 0.0, "metrics_models": 0.0}
    registry.build = timed(registry.build, measured, "build")
    passes: dict[int, list[float]] = {}    # id(workload) -> seconds of each unprofiled pass

    def plain_pass(workload, *args, _real=session._unprofiled_pass, **kwargs):
        t0 = time.perf_counter()
        try:
            return _real(workload, *args, **kwargs)
        finally:
            took = time.perf_counter() - t0
            measured["workload"] += took
            passes.setdefault(id(workload), []).append(took)
    session._unprofiled_pass = plain_pass

    def metrics_pass(workload, label, samples, *args, _real=opmetrics.measure_workload, **kwargs):
        t0 = time.perf_counter()
        try:
            return _real(workload, label, samples, *args, **kwargs)
        finally:
            took = time.perf_counter() - t0
            seen = sorted(passes.get(id(workload), []))
            models = min(took, len(samples) * seen[len(seen) // 2]) if seen else 0.0
            measured["metrics"] += took
            measured["metrics_models"] += models
            measured["workload"] += models
    opmetrics.measure_workload = metrics_pass
    for module in (torch_backend, cprofile_backend):
        def wrapped(*args, _real=module.capture, **kwargs):
            cap = _real(*args, **kwargs)
            measured["workload"] += cap.wall_s
            return cap
        module.capture = wrapped
    if hasattr(torch_backend, "timed_in_range"):   # the spooled path (trees after issue 23's batching)
        def ranged(*args, _real=torch_backend.timed_in_range, **kwargs):
            out, wall = _real(*args, **kwargs)
            measured["workload"] += wall
            return out, wall
        torch_backend.timed_in_range = ranged
    pipeline.profile_workload = timed(pipeline.profile_workload, measured, "loop")
    imported = time.perf_counter() - t_start
    t0 = time.perf_counter()
    outcome = pipeline.run(load_config(config), config, out=out, samples=samples)
    wall = time.perf_counter() - t0
    done = sum(w.get("samples_done", 0) for w in json.loads((outcome.run.path / "manifest.json").read_text())["workloads"])
    return {"import_s": imported, "torch_import_s": torch_s, "wall_s": wall, "workload_s": measured["workload"], "loop_s": measured["loop"],
            "build_s": measured["build"], "metrics_s": measured["metrics"], "metrics_models_s": measured["metrics_models"],
            "samples": done, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "failed": list(outcome.failed)}


# ---- the parent ---------------------------------------------------------------------------------
def measure(tree: Path, config: Path, samples: int | None, tmp: Path, timeout: float) -> dict:
    out = tmp / f"runs-{tree.name}-{samples}-{time.monotonic_ns()}"
    env = dict(os.environ, PYTHONPATH=str(tree), NSCHARACTERIZE_CACHE=os.environ.get(
        "NSCHARACTERIZE_CACHE", str(Path.home() / ".cache" / "nscharacterize")))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(config), str(samples or 0), str(out)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    total = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = total
    subprocess.run(["rm", "-rf", str(out)], check=False)
    return result


def row(label: str, tree: str, r: dict) -> str:
    if "error" in r:
        return f"| {label} | {tree} | not measured: {r['error']} |||||||||||"
    tool_loop = tool_per_sample(r)
    build = r.get("build_s", 0.0)
    fixed = r["wall_s"] - r["loop_s"] - build
    return (f"| {label} | {tree} | {r['samples']} | {r['import_s']:.1f} | {r.get('torch_import_s', 0.0):.1f} | "
            f"{r['wall_s']:.1f} | {build:.2f} | "
            f"{r['workload_s']:.2f} | {r.get('metrics_s', 0.0):.2f} / {r.get('metrics_models_s', 0.0):.2f} | "
            f"{tool_loop * 1e3:.1f} | {fixed:.1f} | {100 * share(r):.0f}% "
            f"({100 * share(r, strict=True):.0f}%) | {r['peak_rss_mib']:.0f} |")


def tool_per_sample(r: dict) -> float:
    """The tool's seconds per sample inside the sample loop (the metrics pass runs after it)."""
    in_loop = r["workload_s"] - r.get("metrics_models_s", 0.0)
    return (r["loop_s"] - in_loop) / max(r["samples"], 1)


def share(r: dict, strict: bool = False) -> float:
    """The tool's share of the whole process: imports, the run, minus the workload's passes (the
    metrics pass's models included) and torch's import and the building of its models; ``strict``
    counts those three as the tool's."""
    total = r["import_s"] + r["wall_s"]
    workload = (r["workload_s"] - r.get("metrics_models_s", 0.0) if strict
                else r["workload_s"] + r.get("build_s", 0.0) + r.get("torch_import_s", 0.0))
    return (total - workload) / total


HEADER = ("| run | tree | samples | import (s) | of which torch (s) | run (s) | build (s) | passes (s) | "
          "metrics pass: all / models (s) | tool in loop (ms/sample) | fixed (s) | "
          "tool share (torch, build and metrics models as tool) | peak RSS (MiB) |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs=3, metavar=("CONFIG", "SAMPLES", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--base", type=Path, help="a checkout of the baseline commit (omit: this tree only)")
    ap.add_argument("--sizes", default="10,100,1000,10000")
    ap.add_argument("--base-max", type=int, default=1000, help="largest size the baseline runs")
    ap.add_argument("--ci", default=str(ROOT / "configs" / "ci.yaml"), help="'' to skip")
    ap.add_argument("--check", default="", help="A,B: also run A and B samples of this tree, print B/A wall")
    ap.add_argument("--timeout", type=float, default=3600)
    args = ap.parse_args(argv)
    if os.environ.get("NSC_BENCH_TINY") == "1" and not argv and len(sys.argv) == 1:
        args.sizes, args.ci = "2", ""          # tests/benchmarks/test_smoke.py: this tree, 2 samples
    if args.child:
        config, samples, out = args.child
        print(json.dumps(child(config, int(samples) or None, out)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]
    trees = [("new", ROOT)] + ([("base", args.base.resolve())] if args.base else [])
    print(HEADER, flush=True)
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        small = tmp / "small.yaml"
        small.write_text(json.dumps(SMALL))   # JSON is YAML
        for i, n in enumerate(sizes):
            order = trees if i % 2 == 0 else trees[::-1]    # alternate who goes first
            for name, tree in order:
                if name == "base" and n > args.base_max:
                    r = {"error": f"skipped above {args.base_max} samples (--base-max)"}
                else:
                    r = measure(tree, small, n, tmp, args.timeout)
                results[(name, n)] = r
                print(row(f"mlp-demo x{n}", name, r), flush=True)
        ci_label = _shown(Path(args.ci)) if args.ci else ""
        if args.ci:
            for name, tree in trees:   # each tree runs its own copy of the config (its workloads)
                r = measure(tree, _in_tree(Path(args.ci), tree), None, tmp, args.timeout)
                results[(name, "ci")] = r
                print(row(ci_label, name, r), flush=True)
        if args.check:
            a, b = (int(x) for x in args.check.split(","))
            ra, rb = (measure(ROOT, small, n, tmp, args.timeout) for n in (a, b))
            print(row(f"mlp-demo x{a}", "new", ra))
            print(row(f"mlp-demo x{b}", "new", rb))
            if "error" not in ra and "error" not in rb:
                print(f"\n{b} samples take {rb['wall_s'] / ra['wall_s']:.2f}x the wall time of {a} "
                      f"({b / a:.0f}x the samples)")
    _summary(results, sizes, ci_label)
    return 0


def _in_tree(path: Path, tree: Path) -> Path:
    """The same file in ``tree`` when ``path`` is inside this tree and ``tree`` has it."""
    try:
        mirrored = tree / path.resolve().relative_to(ROOT)
    except ValueError:
        return path.resolve()
    return mirrored if mirrored.is_file() else path.resolve()


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return path.name


def _summary(results: dict, sizes: list[int], ci_label: str) -> None:
    new = {n: results.get(("new", n)) for n in sizes}
    ok = {n: r for n, r in new.items() if r and "error" not in r}
    if 100 in ok and max(ok) > 100:
        top = max(ok)
        per = {n: tool_per_sample(ok[n]) for n in (100, top)}
        print(f"\ntool time per sample in the loop, {top} over 100 samples: {per[top] / per[100]:.2f}x "
              f"(target <= 1.5x); {top} samples: wall {ok[top]['wall_s']:.0f} s")
    ci = results.get(("new", "ci"))
    if ci and "error" not in ci:
        print(f"tool share of {ci_label} (its own imports included): {100 * share(ci):.0f}% (target < 33%); "
              f"{100 * share(ci, strict=True):.0f}% with torch's import, building the models and the metrics "
              f"pass's models counted as the tool's")


if __name__ == "__main__":
    sys.exit(main())
