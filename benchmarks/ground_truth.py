"""Ground truth for the shares: components of known composition, each part timed alone.

Every number nscharacterize publishes is a share of a component's unprofiled wall time. This
script builds components whose composition is known, measures what each part takes alone,
unprofiled, in the same process and conditions, and sets the shares the tool reports (through
its own capture, taxonomy and attribution) against that truth, for both compensations
(nscharacterize/attribution/compensation.py):

    python benchmarks/ground_truth.py                 # the full suite (a few minutes)
    python benchmarks/ground_truth.py --small         # the test size (seconds)
    python benchmarks/ground_truth.py --json out.json # also write every number

What "true" means: the tool gives a category the time spent *inside* its ops (from the
dispatcher's entry to its exit) and everything else (the Python interpreter, the binding that
parses a call's arguments before the op starts) to Other. So a part's truth is its in-op time:

* a part that is one call of a long op or of an op that runs many ops from C++
  (``torch._foreach_add`` over N tensors, ``torch.unbind``) is timed alone as it is: its one
  Python call is a negligible share;
* a part that calls a small op N times from a Python loop is timed through a C++-driven
  equivalent (``inop``: the same op N times inside one ``_foreach_*`` call) where one exists, else
  as its Python loop less N bindings (``binding_us``: a Python loop of ``torch.neg`` less
  ``_foreach_neg`` of as many tensors, measured in the same round). The second is a model; the
  table marks such rows;
* Other's truth is the component's wall less the parts' truths: the Python between ops;
* cProfile components: a function's truth is a loop calling it alone less the same loop calling
  an empty function (Python's call overhead lands in the caller for cProfile too); the executor's
  truth is the rest.

Rounds interleave everything (each part, the whole component, the profiled call). Each unprofiled
value is the best of ten back-to-back calls and the profiled call the fastest of five (on a shared
machine, the least disturbed of each). Shares are formed within a round; the table reports the median over rounds
and the spread (25th-75th percentile) of the error. Rounds repeat until every
true share's spread is under ``--spread`` points or ``--max-rounds`` is reached.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch

from nscharacterize.attribution.aggregate import attribute
from nscharacterize.profiler import calibration, cprofile_backend, torch_backend
from nscharacterize.profiler.environment import fingerprint
from nscharacterize.profiler.events import events_frame, tagged
from nscharacterize.taxonomy.classifier import Taxonomy

MODES = ("proportional", "per_event")
PROFILED_PER_ROUND = 5


@dataclass
class Part:
    name: str
    category: str                                  # category (torch) or Python category (cProfile)
    run: Callable[[], object]                      # the part as it runs inside the component
    inop: Callable[[], object] | None = None       # the same ops driven from C++: the in-op time
    binding_calls: int = 0                         # Python-level op calls to take a binding off (no inop)
    py_calls: int = 0                              # cProfile: calls whose Python call overhead to take off


@dataclass
class Component:
    name: str
    regime: str
    profiler: str                                  # torch | cprofile
    parts: list[Part]
    body: Callable[[], object] | None = None       # the component; default: the parts in order
    note: str = ""
    residual: str = "other"                        # the category of what no part accounts for

    def __call__(self, _=None):
        if self.body is not None:
            return self.body()
        for p in self.parts:
            p.run()

    @property
    def axis(self) -> str:
        return "python" if self.profiler == "cprofile" else "category"


# ---- the components ------------------------------------------------------------------------------

def gemm_among_scalar_adds(n: int, adds: int) -> Component:
    """One n x n matmul and a Python loop of ``adds`` scalar adds (the issue's rows)."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    y = torch.randn(16, generator=g)
    many = [y] * adds

    def loop():
        z = y
        for _ in range(adds):
            z = z + 1.0
        return z

    return Component(f"gemm{n}+{adds}_scalar_adds", "one big op among many small", "torch",
                     [Part("matmul", "gemm", lambda: a @ b),
                      Part("scalar adds", "elementwise", loop, inop=lambda: torch._foreach_add(many, 1.0))])


def many_small_mixed(iters: int) -> Component:
    """A Python loop of four small ops of four categories."""
    g = torch.Generator().manual_seed(1)
    x, b, c = torch.randn(16, generator=g), torch.randn(64, 4, generator=g), torch.randn(32, generator=g)
    m, idx = torch.randn(8, 8, generator=g), torch.arange(0, 64, 8)
    xs = [x] * iters

    def neg():
        for _ in range(iters):
            torch.neg(x)

    def gather():
        for _ in range(iters):
            b.index_select(0, idx)

    def concat():
        for _ in range(iters):
            torch.cat((c, c))

    def mm():
        for _ in range(iters):
            torch.mm(m, m)

    def body():
        for _ in range(iters):
            torch.neg(x)
            b.index_select(0, idx)
            torch.cat((c, c))
            torch.mm(m, m)

    return Component(f"mixed_small_ops_x{iters}", "many small ops of several categories", "torch",
                     [Part("neg", "elementwise", neg, inop=lambda: torch._foreach_neg(xs)),
                      Part("index_select", "data_transform", gather, binding_calls=iters),
                      Part("cat", "data_movement", concat, binding_calls=iters),
                      Part("mm 8x8", "gemm", mm, binding_calls=iters)], body=body,
                     note="index_select, cat and mm: Python loop less one neg binding per call (a model)")


def nested(n: int) -> Component:
    """Ops that run many ops from C++: every child is nested, most of the profiler's cost lands in
    the parent's interval."""
    g = torch.Generator().manual_seed(2)
    y = torch.randn(16, generator=g)
    adds = [y] * n
    zeros = [torch.zeros(16) for _ in range(n)]
    u = torch.randn(n, 4, generator=g)
    return Component(f"nested_x{n}", "nested ops", "torch",
                     [Part("_foreach_add(scalar)", "elementwise", lambda: torch._foreach_add(adds, 1.0)),
                      Part("_foreach_zero_", "data_movement", lambda: torch._foreach_zero_(zeros)),
                      Part("unbind", "data_transform", lambda: torch.unbind(u))])


def python_loop_around_ops(iters: int, work: int) -> Component:
    """A Python loop doing interpreter work and one small op per iteration."""
    x = torch.randn(16)
    xs = [x] * iters

    def spin(i: int) -> int:   # the interpreter work of one iteration
        acc, j = 0, 0
        while j < work:
            acc += i * j
            j += 1
        return acc

    def python_only():
        return sum(spin(i) for i in range(iters))

    def body():
        acc = 0
        for i in range(iters):
            acc += spin(i)
            torch.neg(x)
        return acc

    return Component(f"python_loop_x{iters}_work{work}", "a Python loop around ops", "torch",
                     [Part("python", "other", python_only),
                      Part("neg", "elementwise", lambda: None, inop=lambda: torch._foreach_neg(xs))], body=body)


# cProfile: functions whose names the python rules classify (nscharacterize/taxonomy/rules/python.yaml)
def filter_objects(k):
    acc, i = 0, 0
    while i < k:
        acc += i & 7
        i += 1
    return acc


def pair_distance(k):
    acc, i = 0.0, 0
    while i < k:
        acc += (i * 0.5) * (i * 0.25)
        i += 1
    return acc


def parse_json(k):
    acc, i = 0, 0
    while i < k:
        acc ^= i
        i += 1
    return acc


def is_red(i):
    return i & 1


def _empty(i):
    return i


def cprofile_executor(steps: int, tiny: int) -> Component:
    """A pure-Python executor (program control) calling functions of known cost: three with a
    body of tens of iterations, one tiny predicate called ``tiny`` times per step."""
    ks = {"filter": 60, "distance": 40, "parse": 30}

    def execute_program():
        for _ in range(steps):
            filter_objects(ks["filter"])
            pair_distance(ks["distance"])
            for j in range(tiny):
                is_red(j)
            parse_json(ks["parse"])

    def calls(fn, arg, count):
        def go():
            for _ in range(count):
                fn(arg)
        return go

    def tiny_calls():
        for _ in range(steps):
            for j in range(tiny):
                is_red(j)

    return Component(f"cprofile_executor_x{steps}", "cProfile: Python functions of known cost", "cprofile",
                     [Part("filter_objects", "feature_query", calls(filter_objects, ks["filter"], steps), py_calls=steps),
                      Part("pair_distance", "arithmetic", calls(pair_distance, ks["distance"], steps), py_calls=steps),
                      Part("parse_json", "parsing_io", calls(parse_json, ks["parse"], steps), py_calls=steps),
                      Part("is_red", "feature_query", tiny_calls, py_calls=steps * tiny)],
                     body=execute_program, residual="program_control",
                     note="the executor's own loop is program control (execute_program, __call__)")


def compiled(n: int, elements: int) -> Component | str:
    """torch.compile on the CPU: an extern matmul and one fused element-wise kernel."""
    from nscharacterize.workloads.compile import toolchain_problem
    problem = toolchain_problem("cpu")
    if problem:
        return f"compiled component skipped: {problem[0]}"
    import torch._inductor.config as inductor_config
    inductor_config.cpp.enable_kernel_profile = True
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    v = torch.randn(elements, generator=g)

    def whole(a, b, v):
        return a @ b, torch.relu(v) * 2.0 + 1.0

    def ew(v):
        return torch.relu(v) * 2.0 + 1.0

    cw, ce = torch.compile(whole), torch.compile(ew)
    cw(a, b, v)
    ce(v)
    return Component(f"compiled_gemm{n}+fused{elements}", "torch.compile (Inductor, CPU)", "torch",
                     [Part("matmul (extern)", "gemm", lambda: a @ b),
                      Part("fused relu*2+1", "elementwise", lambda: ce(v))], body=lambda: cw(a, b, v),
                     note="the fused part's truth includes its compiled-call glue (guards, wrapper)")


def suite(small: bool, with_compiled: bool, only: str | None = None) -> list[Component]:
    if only == "compiled":
        return [compiled(384, 1 << 20)]
    if small:
        comps = [gemm_among_scalar_adds(192, 60), many_small_mixed(40), nested(64),
                 python_loop_around_ops(40, 20), cprofile_executor(20, 10)]
    else:
        comps = [gemm_among_scalar_adds(384, 200), gemm_among_scalar_adds(512, 50),
                 gemm_among_scalar_adds(256, 2000), many_small_mixed(300), nested(500),
                 python_loop_around_ops(300, 30), cprofile_executor(200, 20)]
    if with_compiled:
        comps.append(compiled(384, 1 << 20))
    return comps


# ---- measurement ----------------------------------------------------------------------------------

def best_of(fn: Callable[[], object], k: int = 10) -> float:
    """Best of ``k`` back-to-back calls (wall clock, like the profiled call it is set against): on
    a shared machine the least disturbed."""
    best = float("inf")
    for _ in range(k):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def binding_us(n: int = 200) -> float:
    """Python's cost to call a small op, per call: a Python loop of torch.neg less _foreach_neg."""
    x = torch.randn(16)
    xs = [x] * n

    def loop():
        for _ in range(n):
            torch.neg(x)
    return max(best_of(loop) - best_of(lambda: torch._foreach_neg(xs)), 0.0) / n * 1e6


def py_call_us(n: int = 2000) -> float:
    """Python's cost to call a function (from a loop), per call."""
    def loop():
        for i in range(n):
            _empty(i)
    return best_of(loop) / n * 1e6


@dataclass
class Round:
    truth: dict[str, float]                        # category -> share of W
    reported: dict[str, dict[str, float]]          # mode -> category -> share of W
    wall_s: float
    profiled_wall_s: float
    events: int


CAPTURE = {"spooled": False}   # --spooled: the live run's path (nscharacterize/profiler/spool.py)


def spooled_capture(comp: Component) -> torch_backend.Capture:
    """One call profiled as a live run profiles it: inside a range of a session, written to a
    spool and parsed from there."""
    import tempfile

    from nscharacterize.profiler.spool import MARKER, Spool, SpooledSample

    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(Path(tmp) / "spool")
        key = spool.next_key()
        prof = torch_backend.start_session("cpu", torch_backend.TorchSettings())
        out, wall = torch_backend.timed_in_range(comp, None, "cpu", f"{MARKER}{key}.0")
        torch_backend.stop_session(prof)
        path = spool.trace_path(key, 0)
        torch_backend.export_session(prof, str(path))
        spool.finish(key, SpooledSample("truth", 0, "cpu", True, True, [path.name],
                                        [{"component": comp.name, "kind": "neural", "marker": f"{key}.0",
                                          "timing": {}}]))
        events, _timings = spool.parse(spool.pending())
    return torch_backend.Capture(out, events, wall, float("nan"))


def one_round(comp: Component, index: int, taxonomy: Taxonomy, compensation: dict) -> Round:
    """Times every part and the whole, then profiles the whole once, all in this round."""
    beta = binding_us() if any(p.binding_calls for p in comp.parts) else 0.0
    call = py_call_us() if any(p.py_calls for p in comp.parts) else 0.0
    part_s: dict[str, float] = {}
    for p in comp.parts:
        t = best_of(p.inop or p.run)
        t -= p.binding_calls * beta * 1e-6 + p.py_calls * call * 1e-6
        part_s[p.category] = part_s.get(p.category, 0.0) + max(t, 0.0)
    wall = best_of(comp)
    cap = None
    for _ in range(PROFILED_PER_ROUND):   # the least disturbed of a few profiled calls
        got = (cprofile_backend.capture(comp, None, "cpu") if comp.profiler == "cprofile"
               else spooled_capture(comp) if CAPTURE["spooled"]
               else torch_backend.capture(comp, None, "cpu", torch_backend.TorchSettings()))
        if cap is None or got.wall_s < cap.wall_s:
            cap = got
    rows = tagged(cap.rows, workload="truth", component=comp.name, kind="symbolic" if comp.profiler == "cprofile"
                  else "neural", sample=index)
    ev = taxonomy.classify_events(events_frame([rows]))
    timings = pd.DataFrame([{"workload": "truth", "component": comp.name, "kind": "neural", "profiler": comp.profiler,
                             "device": "cpu", "sample": index, "wall_s": wall, "profiled_wall_s": cap.wall_s}])
    truth = {c: s / wall for c, s in part_s.items() if c != comp.residual}
    truth[comp.residual] = 1.0 - sum(truth.values())
    reported = {}
    for mode in MODES:
        att = attribute(ev, timings, {**compensation, "mode": mode})
        s = att.samples[att.samples["axis"] == comp.axis]
        reported[mode] = {c: float(t) / wall for c, t in zip(s["category"], s["time_s"])}
    return Round(truth, reported, wall, cap.wall_s, int(ev["calls"].sum()) if len(ev) else 0)


def measure(comp: Component, compensation: dict, min_rounds: int, max_rounds: int, spread_pts: float) -> list[Round]:
    taxonomy = Taxonomy()
    comp()                                          # warm-up: allocations, caches, the profiler
    for p in comp.parts:
        (p.inop or p.run)()
    rounds: list[Round] = []
    while len(rounds) < max_rounds:
        rounds.append(one_round(comp, len(rounds), taxonomy, compensation))
        if len(rounds) >= min_rounds and _truth_spread(rounds) <= spread_pts:
            break
    return rounds


def _truth_spread(rounds: list[Round]) -> float:
    cats = set().union(*(r.truth for r in rounds))
    return max(_iqr([100 * r.truth.get(c, 0.0) for r in rounds]) for c in cats)


def _iqr(values) -> float:
    q = np.percentile(np.asarray(values, dtype=float), [25, 75])
    return float(q[1] - q[0])


def table(comp: Component, rounds: list[Round]) -> pd.DataFrame:
    """Per category: true share, reported shares, and the error (reported - true, points) with its spread."""
    cats = list(dict.fromkeys([p.category for p in comp.parts] + [comp.residual]))
    for r in rounds:
        for mode in MODES:
            cats += [c for c, v in r.reported[mode].items() if c not in cats and abs(v) >= 0.005]
    rows = []
    for c in cats:
        truth = [100 * r.truth.get(c, 0.0) for r in rounds]
        row = {"component": comp.name, "regime": comp.regime, "category": c, "rounds": len(rounds),
               "true_%": statistics.median(truth), "true_iqr": _iqr(truth)}
        for mode in MODES:
            rep = [100 * r.reported[mode].get(c, 0.0) for r in rounds]
            err = [a - b for a, b in zip(rep, truth)]
            q = np.percentile(err, [25, 75])
            row[f"{mode}_%"] = statistics.median(rep)
            row[f"{mode}_err"] = statistics.median(err)
            row[f"{mode}_err_p25"], row[f"{mode}_err_p75"] = float(q[0]), float(q[1])
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(results: pd.DataFrame) -> str:
    """Shares in percent of the unprofiled wall; error = reported - true, in points (p25..p75 over rounds)."""
    head = "| component | category | true % (IQR) |" + "".join(f" {m} % | error (p25..p75) |" for m in MODES)
    lines = [head, "|---|---|---|" + "---|---|" * len(MODES)]
    for d in results.to_dict("records"):
        cells = "".join(f" {d[f'{m}_%']:.1f} | {d[f'{m}_err']:+.1f} ({d[f'{m}_err_p25']:+.1f}..{d[f'{m}_err_p75']:+.1f}) |"
                        for m in MODES)
        lines.append(f"| {d['component']} | {d['category']} | {d['true_%']:.1f} ({d['true_iqr']:.1f}) |{cells}")
    return "\n".join(lines)


def summary(results: pd.DataFrame) -> str:
    out = ["| component |" + "".join(f" max abs error, {m} |" for m in MODES), "|---|" + "---|" * len(MODES)]
    for comp, grp in results.groupby("component", sort=False):
        out.append(f"| {comp} |" + "".join(f" {grp[f'{m}_err'].abs().max():.1f} |" for m in MODES))
    return "\n".join(out)


def run(small: bool = False, with_compiled: bool = False, min_rounds: int = 5, max_rounds: int = 15,
        spread_pts: float = 2.0, recalibrate: bool = False, only: str | None = None) -> tuple[pd.DataFrame, dict, list[str]]:
    torch.set_num_threads(1)
    fp = fingerprint("cpu", "ground-truth")
    cost = (calibration.measure(threads=1) if recalibrate else calibration.profiler_cost(fp))
    compensation = {"torch": cost["torch"], "cprofile": cost["cprofile"]}
    print(f"calibration: {json.dumps(compensation)}", flush=True)
    frames, notes = [], []
    with torch.no_grad():
        for comp in suite(small, with_compiled, only):
            if isinstance(comp, str):
                notes.append(comp)
                continue
            rounds = measure(comp, compensation, min_rounds, max_rounds, spread_pts)
            frames.append(table(comp, rounds))
            over = statistics.median(r.profiled_wall_s / r.wall_s for r in rounds)
            notes.append(f"{comp.name}: {comp.regime}; W {statistics.median(r.wall_s for r in rounds) * 1e3:.3f} ms, "
                         f"profiled/unprofiled {over:.2f}x, {rounds[0].events} events, {len(rounds)} rounds"
                         + (f"; {comp.note}" if comp.note else ""))
    return pd.concat(frames, ignore_index=True), compensation, notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="the test size")
    ap.add_argument("--spooled", action="store_true",
                    help="profile as a live run does: a range in a session, parsed from a spool")
    ap.add_argument("--compiled", action="store_true", help="add the torch.compile component (about a minute to compile)")
    ap.add_argument("--only-compiled", action="store_true", help="the torch.compile component alone")
    ap.add_argument("--min-rounds", type=int, default=5)
    ap.add_argument("--max-rounds", type=int, default=15)
    ap.add_argument("--spread", type=float, default=2.0, help="stop when every true share's IQR is under this (points)")
    ap.add_argument("--recalibrate", action="store_true", help="measure the per-event cost now instead of the cache")
    ap.add_argument("--json", help="write the table and the calibration here")
    args = ap.parse_args(argv)
    start = time.time()
    CAPTURE["spooled"] = args.spooled
    results, compensation, notes = run(args.small, args.compiled, args.min_rounds, args.max_rounds, args.spread,
                                       args.recalibrate, "compiled" if args.only_compiled else None)
    print(f"# ground truth: torch {torch.__version__}, 1 thread, {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"per-event cost: torch in {compensation['torch']['in_us']:.3f} us, out {compensation['torch']['out_us']:.3f} us,"
          f" total {compensation['torch']['total_us']:.3f} us; cProfile in {compensation['cprofile']['in_us']:.3f} us, "
          f"out {compensation['cprofile']['out_us']:.3f} us")
    for line in notes:
        print(f"- {line}")
    print()
    print(markdown(results))
    print()
    print(summary(results))
    print(f"\n({time.time() - start:.0f} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"compensation": compensation, "notes": notes, "rows": results.to_dict("records")}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
