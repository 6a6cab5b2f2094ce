"""Same-job A/B runs: base and new run interleaved so that machine drift hits both sides.

Shared CI runners and loaded workstations drift by tens of percent between jobs, far more than
within a job (docs/research/anchors.md section 3), so the robust gate runs both sides in the same job,
alternating rounds in an ABBA order (A B, B A, A B, ...) so that a linear drift cancels. Each round
is a separate ``python -m nscharacterize.cli run`` process; the rounds of one side are merged into
one run directory (samples renumbered round by round) and the two merged runs are compared.

Sides are either two configs run by this checkout (``run_configs``), or two git refs run from
``git worktree`` checkouts of each ref with the same config (``refs.run_refs``).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from nscharacterize.attribution.aggregate import breakdown
from nscharacterize.rundir import store
from nscharacterize.rundir.store import RunDir, RunDirError

from . import runs
from .errors import CompareError

Log = Callable[[str], None]


@dataclass
class Side:
    """One side of an A/B comparison: a label, a config, and how to run it."""

    label: str
    config: Path
    cwd: Path
    env: dict = field(default_factory=dict)
    bootstrap: str | None = None   # Python code run with -c instead of `-m nscharacterize.cli` (git-ref sides)
    commit: str | None = None      # the commit this side must run (checked against the run's manifest)


def run_once(side: Side, out: Path, samples: int | None, log: Log) -> Path:
    """Runs one round of a side; returns the run directory it wrote."""
    out.mkdir(parents=True, exist_ok=True)
    head = [sys.executable, "-c", side.bootstrap] if side.bootstrap else [sys.executable, "-m", "nscharacterize.cli"]
    cmd = head + ["run", str(side.config), "--out", str(out), "--quiet"]
    if samples:
        cmd += ["--samples", str(samples)]
    env = {**os.environ, **side.env}
    log(f"[{side.label}] {' '.join(cmd[3:] if side.bootstrap else cmd[1:])}")
    proc = subprocess.run(cmd, cwd=side.cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise CompareError(side.config, f"side {side.label}", f"`nscharacterize run` failed (exit {proc.returncode}: "
                           f"{tail[0]})", "run the config by hand to see the full error")
    run_dir = find_run_dir(out)
    if side.commit:
        _, manifest = runs.open_run(run_dir)
        recorded = manifest.get("git_commit") or ""
        if not recorded.startswith(side.commit):
            raise CompareError(run_dir / store.MANIFEST, "git_commit", f"is {recorded or 'empty'!r}, not the "
                               f"requested {side.commit[:10]}", "the side ran other code; check the worktree")
    return run_dir


def find_run_dir(out: Path) -> Path:
    """The run directory under ``out`` (``out`` itself, or the newest child holding manifest.json)."""
    if (out / store.MANIFEST).exists():
        return out
    found = sorted((p for p in out.iterdir() if (p / store.MANIFEST).exists()), key=lambda p: p.stat().st_mtime)
    if not found:
        raise CompareError(out, store.MANIFEST, "the run wrote no run directory", "check `nscharacterize run --out`")
    return found[-1]


def interleave(side_a: Side, side_b: Side, rounds: int, samples: int | None, out: Path,
               log: Log = lambda s: None, plan: "Plan | None" = None) -> tuple[Path, Path]:
    """Runs ``rounds`` rounds of each side in ABBA order and merges each side's rounds.

    With a ``plan`` whose ``max_rounds`` exceeds ``rounds``, the sides are merged and judged after
    ``rounds`` rounds and after every further round (``Plan``): rounds are added while the data
    cannot decide, up to ``max_rounds`` or the time budget. Returns the merged run directories
    ``out/A`` and ``out/B``.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    last = max(rounds, plan.max_rounds) if plan else rounds
    dirs: dict[str, list[Path]] = {"A": [], "B": []}
    start = time.monotonic()
    for r in range(last):
        order = (("A", side_a), ("B", side_b)) if r % 2 == 0 else (("B", side_b), ("A", side_a))
        for key, side in order:
            dirs[key].append(run_once(side, out / "rounds" / f"{r:02d}-{key}", samples, log))
        done = r + 1
        if done < rounds:
            continue
        merged_a = merge_runs(dirs["A"], out / "A", label=side_a.label)
        merged_b = merge_runs(dirs["B"], out / "B", label=side_b.label)
        if plan is None or done == last:
            break
        code, why = plan.judge(merged_a, merged_b)
        spent = time.monotonic() - start
        per_round = spent / done
        if code != INCONCLUSIVE:
            log(f"look {done - rounds + 1}: exit {code} after {done} rounds a side; stopping")
            break
        held = f" ({why})" if why else ""   # what kept this look from deciding, so a long gate says why
        if plan.budget_s is not None and spent + per_round > plan.budget_s:
            log(f"look {done - rounds + 1}: inconclusive after {done} rounds a side{held}; another round would "
                f"pass the {plan.budget_s:g} s budget ({spent:.0f} s spent); stopping")
            break
        log(f"look {done - rounds + 1}: inconclusive after {done} rounds a side{held}; adding round {done + 1} "
            f"of at most {last}")
    return merged_a, merged_b


INCONCLUSIVE = 3


@dataclass
class Plan:
    """Sequential rounds: after the first ``rounds``, judge (``judge(A, B)`` returns the gate's exit
    code and what kept it from deciding) and add one round a side while it is 3 (inconclusive), up to ``max_rounds`` a side or until
    another round would pass ``budget_s`` seconds (measured from the first round). The judge must
    test at its look's share of alpha (``CompareSettings.looks``, ``look``, ``alpha_look``): stopping when the data first
    shows a regression is then still a test at ``alpha`` overall (Bonferroni over the looks)."""

    max_rounds: int
    # (the gate's exit code for (A, B), what kept it from deciding: one line, or "")
    judge: Callable[[Path, Path], tuple[int, str]]
    budget_s: float | None = None

    def looks(self, rounds: int) -> int:
        """How many times the data may be judged: after ``rounds`` rounds, and after each added one."""
        return max(1, self.max_rounds - rounds + 1)


def rounds_merged(run_dir: Path) -> int:
    """How many rounds a run merged by ``merge_runs`` holds (1 for a run of its own)."""
    ab = RunDir(run_dir).manifest.get("ab") or {}
    return max(1, len(ab.get("rounds") or []))


def merge_runs(run_dirs: list[Path], out: Path, label: str = "") -> Path:
    """Merges run directories of the same side into one (samples renumbered round by round).

    The merged run is a run of its own: it gets a new ``run_id``, and lists its rounds under ``ab``.
    """
    out.mkdir(parents=True, exist_ok=True)
    dest = RunDir(out)
    opened = [runs.open_run(d) for d in run_dirs]
    samples, timings = [], []
    offset = 0
    for i, (run, _) in enumerate(opened):
        s = run.samples().copy()
        width = int(s["sample"].max()) + 1 if len(s) else 0
        s["sample"] = s["sample"] + offset
        s["round"] = i
        samples.append(s)
        try:
            t = run.timings().copy()
        except RunDirError:   # timings are informative only; compare does not need them
            t = None
        if t is not None:
            t["sample"] = t["sample"] + offset
            t["round"] = i
            timings.append(t)
        offset += width
    merged = pd.concat(samples, ignore_index=True)
    dest.write_csv(store.SAMPLES, merged)
    if timings:
        dest.write_csv(store.TIMINGS, pd.concat(timings, ignore_index=True))
    dest.write_csv(store.BREAKDOWN, breakdown(merged))
    dest.write_yaml(store.CONFIG, opened[0][0].config)
    # the first round's typed manifest, made the merged run's: a new identity and the rounds it holds
    manifest = opened[0][0].read_manifest().model_copy(deep=True)
    manifest.run_id = str(uuid.uuid4())
    manifest.ab = {"label": label, "rounds": [str(d) for d in run_dirs],
                   "run_ids": [m.get("run_id") for _, m in opened],
                   "created": [m.get("created") for _, m in opened],
                   "machine": [m.get("machine") for _, m in opened]}   # each round's machine noise
    manifest.machine = None   # the first round's record is not the merged run's
    dest.write_manifest(manifest)
    return out


def run_configs(config_a: Path, config_b: Path, rounds: int, samples: int | None, out: Path | None,
                log: Log = lambda s: None, check: Callable[[Path], object] = lambda path: None,
                plan: Plan | None = None) -> tuple[Path, Path]:
    """Two configs of this checkout, interleaved; ``check`` validates both before any round runs
    (the caller passes the config loader: its ConfigError names the file, key and fix; the gate
    stage does not import the config layer above it)."""
    for c in (config_a, config_b):
        check(c)
    out = out or temp_dir()
    cwd = Path.cwd()
    return interleave(Side("A", config_a.resolve(), cwd), Side("B", config_b.resolve(), cwd), rounds, samples,
                      out, log=log, plan=plan)


def temp_dir(prefix: str = "nsc-ab-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
