#!/usr/bin/env python
"""Detection power and false-alarm rate of the compare gate, per workload, sample count and mode.

    .venv/bin/python benchmarks/gate_power.py                       # collect 10 + 3 runs, 40 trials per cell
    .venv/bin/python benchmarks/gate_power.py --pool DIR --reuse    # re-simulate from runs already in DIR
    NSC_BENCH_TINY=1 .venv/bin/python benchmarks/gate_power.py      # the suite's smoke size (3 real runs)

1. Real runs (collection). One config holds (a) two built-in smoke workloads, mlp-demo and
   nlm-sort, and (b) a user model (tests/support/power_models.py:lm_cnn_logic: a tiny Transformer
   LM, a digit CNN and a Python logic step). It is run ``--runs`` times unchanged, one process
   after another, ``--samples`` samples each, and ``--planted-runs`` times with one component of
   every workload repeated twice per sample (a real 2x slowdown: mlp-demo's encoder, nlm-sort's
   policy, the user model's LM).
2. Trials (simulation). A trial is one gate decision (``compare``'s exit code, with the gate's
   defaults and exactly its code: ``compare.compare_values``) on runs assembled from the measured
   ones: every round is one real run drawn at random from the pool, of which ``n`` samples are
   drawn without replacement (whole samples: every category and axis of a sample together), the
   same sample indices on both sides (``ab`` runs the same seeded samples on both). A
   slowdown ``s`` multiplies every per-sample time of the planted component in the new side's
   rounds by ``s``. Baseline mode: one round per side (two different real runs: the run-to-run
   drift of separate jobs). A/B mode: ``rounds`` rounds per side, all distinct runs (the ABBA
   interleaving is modelled as exchangeable rounds: no trend across the pool).
   Cells: the sample counts the README and shipped configs use: ``samples: 3`` (the config
   default; `ab` default 2 rounds), ``samples: 4`` (configs/ci.yaml; scripts/ci_gate.sh: 3 rounds).
   Assumptions, stated: (i) a slowdown scales the planted component's time per sample and leaves
   its noise relative (checked against the real 2x runs: the ``real 2x`` column draws the new
   rounds from the planted runs instead); (ii) the pool's runs are exchangeable: what varies from
   run to run here (load of the shared machine) is what varies between the sides of a real gate;
   (iii) the samples of one run are exchangeable (a run's first samples are not special: warm-up
   runs before them).
3. Output: per workload, mode and cell, the share of trials that fail the gate (exit 1), that are
   inconclusive (exit 3), and for unchanged code the false alarms (exit 1); the smallest slowdown
   caught with 90 % power; and the share of 1.25x trials that pass (exit 0): a change the size of
   the threshold that the gate let through, the error its upper-bound rule bounds per look. With
   ``--pairs``, also whole runs compared one a side (every workload and sample of the runs as they
   are, no simulation): every ordered pair of unchanged runs, and each unchanged run against each
   real 2x run.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = ROOT / "tests" / "support"
sys.path[:0] = [str(ROOT), str(SUPPORT)]

from nscharacterize.gate.abrun import find_run_dir  # noqa: E402
from nscharacterize.gate.compare import Side, compare_runs, compare_values, side_of  # noqa: E402
from nscharacterize.gate.samples import ALL, TOTAL  # noqa: E402
from nscharacterize.gate.settings import CompareSettings  # noqa: E402
from nscharacterize.rundir.store import RunDir  # noqa: E402

# label -> (config entry, planted component)
WORKLOADS = {
    "mlp-demo": ({"workload": "power_models:planted",
                  "params": {"workload": "mlp-demo", "params": {"objects": 6, "hidden": 16}, "component": "encoder"}},
                 "encoder"),
    "nlm-sort": ({"workload": "power_models:planted",
                  "params": {"workload": "nlm-sort", "params": {"n": 4}, "component": "policy"}}, "policy"),
    "user-lm-cnn-logic": ({"workload": "power_models:lm_cnn_logic", "params": {"component": "lm"}}, "lm"),
}
FACTORS = (1.1, 1.25, 1.5, 2.0)
# (mode, rounds per side, samples per round, most rounds per side): what the README and the shipped
# configs use. `ab` starts at 2 rounds and adds rounds while inconclusive up to --max-rounds (default
# 12, gate_cli.DEFAULT_MAX_ROUNDS; 6 until 2026-12-05, kept as a cell, with 8); "A/B fixed" is the same without
# adding rounds (--max-rounds = --rounds). `samples: 3` is the config default, 4 configs/ci.yaml's, 6
# configs/ci-gate.yaml's (scripts/ci_gate.sh: 3 rounds first, up to 12). A cell of up to M rounds draws 2M
# distinct runs of the pool: --runs 24 or more for the cells of 12.
CELLS = (("baseline", 1, 3, 1), ("baseline", 1, 4, 1), ("A/B fixed", 2, 3, 2), ("A/B", 2, 3, 6), ("A/B", 2, 3, 8),
         ("A/B", 2, 3, 12), ("A/B", 2, 4, 12), ("A/B", 3, 6, 12))


def config(samples: int, repeat: int, only: list[str] | None = None) -> dict:
    entries = []
    for label, (entry, _) in WORKLOADS.items():
        if only and label not in only:
            continue
        e = copy.deepcopy(entry)
        e["name"] = label
        e["params"]["repeat"] = repeat
        entries.append(e)
    return {"name": "power", "seed": 0, "device": "cpu", "threads": 1, "samples": samples, "warmup": 1,
            "repeats": 3, "workloads": entries}


def collect(out: Path, tag: str, cfg: dict, count: int, reuse: bool) -> list[Path]:
    """``count`` real runs of ``cfg`` one after another (reusing those already under ``out``)."""
    path = out / f"{tag}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(SUPPORT), os.environ.get("PYTHONPATH", "")])}
    runs = []
    for i in range(count):
        dest = out / "runs" / f"{tag}-{i:02d}"
        if reuse and dest.is_dir():
            try:
                runs.append(find_run_dir(dest))
                continue
            except Exception:   # an incomplete run: run it again
                pass
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-m", "nscharacterize.cli", "run", str(path), "--out", str(dest),
                               "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"run {tag}-{i} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
        print(f"  {tag}-{i:02d}: {time.time() - t0:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)
        runs.append(find_run_dir(dest))
    return runs


def load(run_dirs: list[Path], labels: list[str], settings) -> list[dict[str, Side]]:
    """Each run reshaped once per workload into the gate's per-sample values (``compare.side_of``)."""
    out = []
    for d in run_dirs:
        run = RunDir(d)
        manifest, samples = run.manifest, run.samples()
        per = {}
        for wl in labels:
            m = copy.deepcopy(manifest)
            m["workloads"] = [w for w in m["workloads"] if w["name"] == wl]
            per[wl] = side_of(m, samples[samples["workload"] == wl], settings)
        out.append(per)
    return out


def assemble(pool, picks, wl: str, n: int, rng, comp: str | None = None, factor: float = 1.0) -> Side:
    """A side of ``len(picks)`` rounds: round r is ``n`` samples of pool run ``picks[r]``, drawn
    without replacement; every series of component ``comp`` scaled by ``factor`` (and the workload
    total rebuilt from its components)."""
    rounds = []
    for idx in picks:
        src = pool[idx][wl]
        size = len(src.values[(wl, ALL, "category", TOTAL)])
        take = rng.choice(size, size=min(n, size), replace=False)
        vals = {k: v[take] * (factor if comp is not None and k[1] == comp else 1.0) for k, v in src.values.items()
                if k[0] == wl}
        comps = [k for k in vals if k[1] != ALL and k[2] == "category" and k[3] == TOTAL]
        vals[(wl, ALL, "category", TOTAL)] = np.sum([vals[k] for k in comps], axis=0)
        shares = {k: v[take] for k, v in src.shares.items() if k[0] == wl}
        rounds.append((vals, shares))
    keys = set.intersection(*(set(v) for v, _ in rounds))
    values = {k: np.concatenate([v[k] for v, _ in rounds]) for k in keys}
    skeys = set.intersection(*(set(sh) for _, sh in rounds))
    shares = {k: np.concatenate([sh[k] for _, sh in rounds]) for k in skeys}
    first = pool[picks[0]][wl]
    manifest = copy.deepcopy(first.manifest)
    if len(picks) > 1:
        manifest["ab"] = {"rounds": [str(i) for i in picks], "machine": [pool[i][wl].manifest.get("machine")
                                                                        for i in picks]}
        manifest.pop("machine", None)
    return Side(manifest, {wl}, set(), values, shares, first.kinds,
                [v for v, _ in rounds] if len(picks) > 1 else [], len(picks) > 1)


def trial(pool, planted_pool, wl, comp, rounds, n, factor, rng, settings, real=False, max_rounds=None
          ) -> tuple[int, int]:
    """One gate decision (compare's exit code, and the rounds a side it took) on sides assembled from
    the measured runs. With ``max_rounds`` above ``rounds`` it is the sequential gate of ``ab``
    (``abrun.Plan``): judged after ``rounds`` rounds at that look's level (``CompareSettings.alpha_look``), one more round a side
    (distinct pool runs) while inconclusive."""
    last = max(rounds, max_rounds or rounds)
    looks = last - rounds + 1
    k = 2 * last
    picks = rng.choice(len(pool), size=k, replace=len(pool) < k)
    newp = rng.choice(len(planted_pool), size=last, replace=len(planted_pool) < last) if real else picks[last:]
    # the samples drawn for a round stay the same as rounds are added (one seed per trial), and both
    # sides draw the same sample indices, as `ab` runs the same seeded samples on both sides
    seed = int(rng.integers(1 << 31))
    code = 3
    for r in range(rounds, last + 1):
        base = assemble(pool, picks[:r], wl, n, np.random.default_rng(seed))
        if real:
            new = assemble(planted_pool, newp[:r], wl, n, np.random.default_rng(seed))
        else:
            new = assemble(pool, newp[:r], wl, n, np.random.default_rng(seed), comp, factor)
        s = settings.model_copy(update={"looks": looks, "look": r - rounds + 1}) if looks > 1 else settings
        code = compare_values(base, new, s).exit_code
        if code != 3:
            return code, r
    return code, last


def _cell(text: str) -> tuple:
    """The cell ``--cell`` names, one of CELLS or not: ``R-MxN`` (A/B, R rounds first, up to M, N
    samples a round) or ``RxN`` (A/B fixed; 1xN: baseline). Its trials draw 2M distinct runs of the pool."""
    m = re.fullmatch(r"(\d+)(?:-(\d+))?x(\d+)", text.replace(" ", ""))
    if not m:
        raise SystemExit(f"--cell {text}: expected R-MxN or RxN, e.g. 2-8x3")
    rounds, most, n = int(m[1]), int(m[2] or m[1]), int(m[3])
    mode = "baseline" if rounds == most == 1 else "A/B" if most > rounds else "A/B fixed"
    return (mode, rounds, n, most)


def smallest_90(rates: dict[float, float]) -> str:
    for f in FACTORS:
        if rates.get(f, 0.0) >= 0.9:
            return f"{f:g}x"
    return f"> {FACTORS[-1]:g}x"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="unchanged real runs in the pool (default 10)")
    ap.add_argument("--planted-runs", type=int, default=3, help="real runs with the 2x plant (default 3)")
    ap.add_argument("--samples", type=int, default=8, help="samples per real run (default 8)")
    ap.add_argument("--trials", type=int, default=40, help="trials per cell (default 40)")
    ap.add_argument("--only", help="comma-separated workloads (default all)")
    ap.add_argument("--pool", help="keep the runs here (default a temp dir)")
    ap.add_argument("--reuse", action="store_true", help="with --pool: use the runs already there")
    ap.add_argument("--collect-only", action="store_true")
    ap.add_argument("--tiny", action="store_true", help="smoke size (also NSC_BENCH_TINY=1): 2 runs, 1 planted, "
                    "3 samples, 3 trials, mlp-demo only (the baseline 1 x 3 cell)")
    ap.add_argument("--mode", choices=["baseline", "A/B"], help="only the cells of this mode (default both; "
                    "A/B includes A/B fixed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pairs", action="store_true", help="also compare whole runs of the pool pairwise "
                    "(baseline mode as a user meets it: every ordered pair of unchanged runs, and each against the "
                    "real 2x runs)")
    ap.add_argument("--rel-threshold", type=float, help="the gate's relative threshold for every trial (default "
                    "the gate's, 0.25): what a lower one would catch, and what it costs in false alarms")
    ap.add_argument("--abs-floor", type=float, help="the gate's absolute floor per sample in seconds for every trial "
                    "(default the gate's): what a smaller one would catch of components of tens of microseconds")
    ap.add_argument("--alpha", type=float, help="the gate's significance level for every trial (default the "
                    "gate's, 0.002), split over the looks as `ab` splits it")
    ap.add_argument("--unpaired", action="store_true", help="the gate without pairing the rounds of A/B sides "
                    "(compare.paired false): what pairing changes")
    ap.add_argument("--cell", help="only this cell, as the table writes it without spaces, or one of your own (e.g. 2-8x3: 2 "
                    "rounds first, up to 8, 3 samples a round)")
    ap.add_argument("--json", help="write the rates here")
    args = ap.parse_args()
    if args.tiny or os.environ.get("NSC_BENCH_TINY") == "1":
        args.runs, args.planted_runs, args.samples, args.trials = 2, 1, 3, 3
        args.only = args.only or "mlp-demo"
    only = args.only.split(",") if args.only else None
    out = Path(args.pool or tempfile.mkdtemp(prefix="nsc-power-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"[1] real runs under {out} (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    pool_dirs = collect(out, "unchanged", config(args.samples, 1, only), args.runs, args.reuse)
    planted_dirs = collect(out, "planted2x", config(args.samples, 2, only), args.planted_runs, args.reuse)
    if args.collect_only:
        return 0
    changed = {k: v for k, v in (("rel_threshold", args.rel_threshold), ("abs_floor_s", args.abs_floor),
                                 ("alpha", args.alpha), ("paired", False if args.unpaired else None))
               if v is not None}
    settings = CompareSettings(**changed)
    rng = np.random.default_rng(args.seed)
    labels = [w for w in WORKLOADS if not only or w in only]
    pool, planted = load(pool_dirs, labels, settings), load(planted_dirs, labels, settings)
    contention = [m.get("contention") for m in (RunDir(d).manifest.get("machine") or {} for d in pool_dirs)]
    print(f"    pool: {len(pool)} unchanged runs (contention {min(c for c in contention if c) if any(contention) else '?'}"
          f"-{max(c for c in contention if c) if any(contention) else '?'}), {len(planted)} with the real 2x plant")
    cells = [_cell(args.cell)] if args.cell else [
        c for c in CELLS if c[2] <= args.samples and 2 * c[1] <= max(2, args.runs)
        and (args.mode is None or c[0].startswith(args.mode))]
    which = "gate defaults" if not changed else "gate defaults but"
    print(f"[2] {args.trials} trials per cell, {which} (rel_threshold {settings.rel_threshold}, abs_floor_s "
          f"{settings.abs_floor_s:g}, alpha {settings.alpha}, test {settings.test}, paired {settings.paired}); "
          "caught = exit 1, inconclusive = exit 3; A/B rounds grow "
          "from the first number to the second while inconclusive (alpha split over the looks, "
          "half at the last)")
    results = []
    header = (f"{'workload':<18} {'mode':<9} {'rounds x n':<11} {'false alarm':>11} {'ctl inconcl':>11} "
              + " ".join(f"{f'{f:g}x':>7}" for f in FACTORS) + f" {'real 2x':>7} {'rounds':>6} {'90% power':>9} {'1.25x pass':>11}")
    print(header)
    for wl in labels:
        comp = WORKLOADS[wl][1]
        for mode, rounds, n, most in cells:
            def go(f, real=False):
                return [trial(pool, planted, wl, comp, rounds, n, f, rng, settings, real=real, max_rounds=most)
                        for _ in range(args.trials)]

            codes = {1.0: go(1.0)}
            for f in FACTORS:
                codes[f] = go(f)
            real = go(2.0, real=True) if planted else []
            rate = {f: float(np.mean([c == 1 for c, _ in v])) for f, v in codes.items()}
            inconclusive = {f: float(np.mean([c == 3 for c, _ in v])) for f, v in codes.items()}
            passed = {f: float(np.mean([c == 0 for c, _ in v])) for f, v in codes.items()}
            real_rate = float(np.mean([c == 1 for c, _ in real])) if real else float("nan")
            used = float(np.mean([r for v in codes.values() for _, r in v]))
            span = f"{rounds}-{most} x {n}" if most > rounds else f"{rounds} x {n}"
            row = {"workload": wl, "component": comp, "mode": mode, "rounds": rounds, "max_rounds": most, "samples": n,
                   "trials": args.trials, "false_alarm": rate[1.0], "control_inconclusive": inconclusive[1.0],
                   "caught": {f"{f:g}": rate[f] for f in FACTORS},
                   "inconclusive": {f"{f:g}": inconclusive[f] for f in FACTORS},
                   "passed": {f"{f:g}": passed[f] for f in FACTORS},
                   "real_2x_caught": real_rate, "mean_rounds": used, "smallest_90": smallest_90(rate)}
            results.append(row)
            print(f"{wl:<18} {mode:<9} {span:<11} {rate[1.0]:>11.0%} {inconclusive[1.0]:>11.0%} "
                  + " ".join(f"{rate[f]:>7.0%}" for f in FACTORS) + f" {real_rate:>7.0%} {used:>6.1f} "
                  f"{smallest_90(rate):>9} {passed[1.25]:>11.0%}", flush=True)
    if results:
        fa = np.mean([r["false_alarm"] for r in results])
        print(f"\nfalse alarms over all cells: {fa:.1%} ({sum(round(r['false_alarm'] * r['trials']) for r in results)}"
              f"/{len(results) * args.trials} unchanged trials)")
    pairs = whole_run_pairs(pool_dirs, planted_dirs, settings) if args.pairs else None
    if args.json:
        Path(args.json).write_text(json.dumps({"pool": str(out), "runs": args.runs, "planted_runs": args.planted_runs,
                                               "samples": args.samples, "changed_settings": changed,
                                               "results": results, "pairs": pairs}, indent=2))
    return 0


def whole_run_pairs(pool_dirs: list[Path], planted_dirs: list[Path], settings: CompareSettings) -> dict:
    """Baseline mode as a user meets it: ``compare`` of two whole runs (every workload, every
    sample), over every ordered pair of unchanged runs and every unchanged run against every run
    with the real 2x plant (their config differs by the plant: fingerprints not compared)."""
    def count(pairs, s) -> dict[str, int]:
        codes = [compare_runs(a, b, s).exit_code for a, b in pairs]
        return {"fail": codes.count(1), "inconclusive": codes.count(3), "pass": codes.count(0)}

    unchanged = count([(a, b) for a in pool_dirs for b in pool_dirs if a != b], settings)
    planted = count([(a, b) for a in pool_dirs for b in planted_dirs],
                    settings.model_copy(update={"fingerprint_keys": []}))
    print(f"\n[3] whole runs, one a side (compare's defaults): unchanged pairs {sum(unchanged.values())}: "
          f"{unchanged['fail']} fail, {unchanged['inconclusive']} inconclusive, {unchanged['pass']} pass; "
          f"against the real 2x runs {sum(planted.values())}: {planted['fail']} fail, {planted['inconclusive']} "
          f"inconclusive, {planted['pass']} pass")
    return {"unchanged": unchanged, "real_2x": planted}


if __name__ == "__main__":
    sys.exit(main())
