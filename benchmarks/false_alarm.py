#!/usr/bin/env python
"""False-alarm rate of the compare gate on unchanged code, and the smallest planted regression caught.

    .venv/bin/python benchmarks/false_alarm.py                      # configs/ci.yaml, 12 runs
    .venv/bin/python benchmarks/false_alarm.py --runs 12 --only mlp-demo,nlm-sort,nlm-path
    .venv/bin/python benchmarks/false_alarm.py --rel-threshold 0.1  # try other thresholds

1. Unchanged code: the config is run ``--runs`` times, one after another. Every consecutive pair is
   a single-run comparison (``runs - 1``, as `compare BASE NEW` of two CI jobs), and every window
   of four runs k..k+3 is an interleaved ABBA comparison (k, k+3 against k+1, k+2, merged per side
   with their rounds, as scripts/ci_gate.sh does; ``runs - 3`` of them). Exit code 1 is a false alarm.
2. Planted regressions: for each value of ``--copies``, the config's mlp-demo entry with that many
   extra tensor clones per forward runs twice between two unchanged runs (ABBA); the smallest
   ``copies`` whose mlp-demo/encoder/data_movement row regresses is reported with the time it added
   (and the single-run verdict beside it).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = os.environ.get("NSC_BENCH_TINY") == "1"   # a tiny size for tests/benchmarks/test_smoke.py
sys.path.insert(0, str(ROOT))

from nscharacterize.gate.abrun import find_run_dir, merge_runs  # noqa: E402
from nscharacterize.gate.compare import compare_runs  # noqa: E402
from nscharacterize.gate.settings import resolve  # noqa: E402


REUSE = False


def run_config(cfg: dict, out: Path, tag: str) -> Path:
    path = out / f"{tag}.yaml"
    dest = out / "runs" / tag
    if REUSE and dest.is_dir():
        return find_run_dir(dest)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "nscharacterize.cli", "run", str(path), "--out", str(dest), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"run {tag} failed: {proc.stderr.strip().splitlines()[-1:]}")
    print(f"  {tag}: {time.time() - t0:.0f} s", flush=True)
    return find_run_dir(dest)


def verdict(cmp) -> str:
    reg = [f"{r.workload}/{r.component}/{r.category} {r.ratio:.2f}x p={r.p_value:.1g}" for r in cmp.rows
           if r.verdict == "regressed"]
    return "FALSE ALARM: " + "; ".join(reg) if cmp.exit_code else "pass"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "ci.yaml"))
    ap.add_argument("--only", help="comma-separated workloads of the config to keep (default all)")
    ap.add_argument("--runs", type=int, default=13, help="unchanged runs (default 13: 12 sequential + 10 ABBA)")
    ap.add_argument("--copies", default="50,100,200,400", help="planted mlp-demo copies to try")
    ap.add_argument("--rel-threshold", type=float)
    ap.add_argument("--abs-floor", type=float)
    ap.add_argument("--alpha", type=float)
    ap.add_argument("--out", help="keep the runs here (default a temp dir)")
    ap.add_argument("--json", help="write the numbers here")
    ap.add_argument("--reuse", action="store_true", help="with --out: re-evaluate the runs already there "
                    "(e.g. with other thresholds) instead of running them again")
    if TINY:   # the small compat config's mlp-demo, four unchanged runs, one planted size
        ap.set_defaults(config=str(ROOT / "configs" / "compat.yaml"), only="mlp-demo", runs=4, copies="400")
    args = ap.parse_args()
    global REUSE
    REUSE = args.reuse

    settings = resolve(options={"rel_threshold": ("--rel-threshold", args.rel_threshold),
                                "abs_floor_s": ("--abs-floor", args.abs_floor), "alpha": ("--alpha", args.alpha)})
    cfg = yaml.safe_load(Path(args.config).read_text())
    cfg.pop("compare", None)
    if args.only:
        keep = set(args.only.split(","))
        cfg["workloads"] = [w for w in cfg["workloads"] if w["workload"] in keep]
    out = Path(args.out or tempfile.mkdtemp(prefix="nsc-false-alarm-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"config {args.config} ({', '.join(w['workload'] for w in cfg['workloads'])}); runs under {out}")
    print(f"settings: {settings.model_dump(include={'rel_threshold', 'abs_floor_s', 'alpha', 'statistic', 'test'})}")

    print(f"[1] {args.runs} unchanged runs")
    runs = [run_config(cfg, out, f"same-{i:02d}") for i in range(args.runs)]
    seq = []
    for i in range(len(runs) - 1):
        cmp = compare_runs(runs[i], runs[i + 1], settings)
        seq.append(cmp.exit_code == 1)
        print(f"  sequential {i:02d} vs {i + 1:02d}: {verdict(cmp)}")
    abba = []
    for k in range(len(runs) - 3):   # sliding windows: runs k, k+3 (A) against k+1, k+2 (B)
        a = merge_runs([runs[k], runs[k + 3]], out / "merged" / f"{k:02d}-A", "A")
        b = merge_runs([runs[k + 1], runs[k + 2]], out / "merged" / f"{k:02d}-B", "B")
        cmp = compare_runs(a, b, settings)
        abba.append(cmp.exit_code == 1)
        print(f"  ABBA runs {k},{k + 3} vs {k + 1},{k + 2}: {verdict(cmp)}")

    print("[2] planted data-movement regressions (mlp-demo copies), ABBA: unchanged, planted x2, unchanged")
    planted = []
    mlp = [i for i, w in enumerate(cfg["workloads"]) if w["workload"] == "mlp-demo"]
    smallest = None
    prev = runs[-1]
    if mlp:
        for c in (int(x) for x in args.copies.split(",")):
            pcfg = copy.deepcopy(cfg)
            pcfg["workloads"][mlp[0]].setdefault("params", {})["copies"] = c
            p1 = run_config(pcfg, out, f"copies-{c}-1")
            p2 = run_config(pcfg, out, f"copies-{c}-2")
            nxt = run_config(cfg, out, f"same-after-{c}")
            a = merge_runs([prev, nxt], out / "merged" / f"copies-{c}-A", "A")
            b = merge_runs([p1, p2], out / "merged" / f"copies-{c}-B", "B")
            prev = nxt
            cmp = compare_runs(a, b, settings, allow_keys=("config_hash",))
            single = compare_runs(nxt, p1, settings, allow_keys=("config_hash",))
            row = next(r for r in cmp.rows if (r.workload, r.component, r.category) == ("mlp-demo", "encoder", "data_movement"))
            srow = next(r for r in single.rows if (r.workload, r.component, r.category) == ("mlp-demo", "encoder", "data_movement"))
            caught = row.verdict == "regressed"
            others = [f"{r.workload}/{r.component}/{r.category}" for r in cmp.rows
                      if r.verdict == "regressed" and r.workload != "mlp-demo"]
            planted.append({"copies": c, "caught": caught, "base_s": row.base_s, "new_s": row.new_s,
                            "delta_s": row.delta_s, "ratio": row.ratio, "p": row.p_value, "verdict": row.verdict,
                            "note": row.note, "single_run_verdict": srow.verdict, "unrelated_regressions": others})
            print(f"  copies={c}: data_movement {row.base_s * 1e6:.1f} -> {row.new_s * 1e6:.1f} us "
                  f"(+{row.delta_s * 1e6:.1f} us, p={row.p_value:.1g}) ABBA -> {row.verdict} {row.note}; "
                  f"single runs -> {srow.verdict}" + (f"; unrelated regressions: {others}" if others else ""))
            if caught and smallest is None:
                smallest = planted[-1]

    res = {"settings": settings.model_dump(), "config": args.config, "workloads": [w["workload"] for w in cfg["workloads"]],
           "sequential": {"comparisons": len(seq), "false_alarms": sum(seq)},
           "abba": {"comparisons": len(abba), "false_alarms": sum(abba)},
           "planted": planted, "smallest_caught": smallest, "out": str(out)}
    print("\nRESULT")
    print(f"  false alarms, sequential runs: {sum(seq)}/{len(seq)} = {sum(seq) / max(1, len(seq)):.0%}")
    print(f"  false alarms, interleaved ABBA: {sum(abba)}/{len(abba)}")
    if smallest:
        print(f"  smallest planted regression caught: copies={smallest['copies']} "
              f"(+{smallest['delta_s'] * 1e6:.0f} us data movement per sample, {smallest['ratio']:.2f}x)")
    else:
        print("  no planted regression caught")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
