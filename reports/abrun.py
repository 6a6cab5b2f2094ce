"""Same-job A/B runs: base and new run interleaved so that machine drift hits both sides.

Shared CI runners and loaded workstations drift by tens of percent between jobs, far more than
within a job (docs/research/anchors.md section 3), so the robust gate runs both sides in the same job,
alternating rounds in an ABBA order (A B, B A, A B, ...) so that a linear drift cancels. Each round
is a separate ``python -m nscharacterize.cli run`` process; the rounds of one side are merged into
one run directory (samples renumbered round by round) and the two merged runs are compared.

Sides are either two configs run by this checkout, or two git refs run from ``git worktree``
checkouts of each ref with the same config (a shim directory maps each worktree's stage folders
into the ``nscharacterize.*`` namespace, and the bootstrap drops this checkout's editable-install
finder, so every import comes from the ref's own tree).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .compare import CompareError

# Runs the CLI of whatever tree is first on the import path (the shim), with this checkout's
# editable-install finder (which would map nscharacterize.* back to the current tree) removed, and
# without the working directory on the path (the worktree's own nscharacterize/ folder lacks the
# stage subpackages, which only the shim lays out).
ISOLATE = ("import os, sys, runpy; "
           "sys.path[:] = [p for p in sys.path if p not in ('', '.', os.getcwd())]; "
           "sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in getattr(f, '__module__', '') "
           "and '__editable__' not in type(f).__module__]; "
           "sys.path_hooks[:] = [h for h in sys.path_hooks if '__editable__' not in getattr(h, '__module__', '')]; "
           "sys.path_importer_cache.clear(); ")
_BOOTSTRAP = ISOLATE + "runpy.run_module('nscharacterize.cli', run_name='__main__', alter_sys=True)"

# The stage folders of a checkout and their import names (pyproject's package-dir).
DEFAULT_PACKAGE_DIR = {"nscharacterize": "nscharacterize", "nscharacterize.profiler": "profiler",
                       "nscharacterize.taxonomy": "taxonomy", "nscharacterize.workloads": "workloads",
                       "nscharacterize.reports": "reports"}


@dataclass
class Side:
    """One side of an A/B comparison: a label, a config, and how to run it."""

    label: str
    config: Path
    cwd: Path
    env: dict = field(default_factory=dict)
    bootstrap: bool = False     # run through _BOOTSTRAP (git-ref sides), not `-m nscharacterize.cli`
    commit: str | None = None   # the commit this side must run (checked against the run's manifest)


def run_once(side: Side, out: Path, samples: int | None, log: Callable[[str], None]) -> Path:
    """Runs one round of a side; returns the run directory it wrote."""
    out.mkdir(parents=True, exist_ok=True)
    head = [sys.executable, "-c", _BOOTSTRAP] if side.bootstrap else [sys.executable, "-m", "nscharacterize.cli"]
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
        import json

        recorded = json.loads((run_dir / "manifest.json").read_text()).get("git_commit") or ""
        if not recorded.startswith(side.commit):
            raise CompareError(run_dir / "manifest.json", "git_commit", f"is {recorded or 'empty'!r}, not the "
                               f"requested {side.commit[:10]}", "the side ran other code; check the worktree")
    return run_dir


def find_run_dir(out: Path) -> Path:
    """The run directory under ``out`` (``out`` itself, or the newest child holding manifest.json)."""
    if (out / "manifest.json").exists():
        return out
    found = sorted((p for p in out.iterdir() if (p / "manifest.json").exists()), key=lambda p: p.stat().st_mtime)
    if not found:
        raise CompareError(out, "manifest.json", "the run wrote no run directory", "check `nscharacterize run --out`")
    return found[-1]


def interleave(side_a: Side, side_b: Side, rounds: int, samples: int | None, out: Path,
               log: Callable[[str], None] = lambda s: None) -> tuple[Path, Path]:
    """Runs ``rounds`` rounds of each side in ABBA order and merges each side's rounds.

    Returns the merged run directories ``out/A`` and ``out/B``.
    """
    dirs: dict[str, list[Path]] = {"A": [], "B": []}
    for r in range(rounds):
        order = (("A", side_a), ("B", side_b)) if r % 2 == 0 else (("B", side_b), ("A", side_a))
        for key, side in order:
            dirs[key].append(run_once(side, out / "rounds" / f"{r:02d}-{key}", samples, log))
    merged_a = merge_runs(dirs["A"], out / "A", label=side_a.label)
    merged_b = merge_runs(dirs["B"], out / "B", label=side_b.label)
    return merged_a, merged_b


def merge_runs(run_dirs: list[Path], out: Path, label: str = "") -> Path:
    """Merges run directories of the same side into one (samples renumbered round by round)."""
    import pandas as pd

    from nscharacterize.attribution.aggregate import breakdown
    from .compare import load_run
    from .store import RunDir

    out.mkdir(parents=True, exist_ok=True)
    dest = RunDir(out)
    runs = [load_run(d) for d in run_dirs]
    samples, timings = [], []
    offset = 0
    for i, run in enumerate(runs):
        s = run.samples().copy()
        width = int(s["sample"].max()) + 1 if len(s) else 0
        s["sample"] = s["sample"] + offset
        s["round"] = i
        samples.append(s)
        try:
            t = run.timings().copy()
            if "sample" in t.columns:
                t["sample"] = t["sample"] + offset
            t["round"] = i
            timings.append(t)
        except ValueError:
            pass
        offset += width
    merged = pd.concat(samples, ignore_index=True)
    dest.write_csv("samples.csv", merged)
    if timings:
        dest.write_csv("timings.csv", pd.concat(timings, ignore_index=True))
    dest.write_csv("breakdown.csv", breakdown(merged))
    dest.write_text("config.yaml", (Path(run_dirs[0]) / "config.yaml").read_text())
    manifest = dict(runs[0].manifest)
    manifest["ab"] = {"label": label, "rounds": [str(d) for d in run_dirs],
                      "created": [r.manifest.get("created") for r in runs]}
    dest.write_json("manifest.json", manifest)
    return out


# ---------------------------------------------------------------------------------------------
# Git refs
# ---------------------------------------------------------------------------------------------

def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise CompareError(repo, "git " + " ".join(args[:2]), proc.stderr.strip().splitlines()[-1]
                           if proc.stderr.strip() else f"exit {proc.returncode}", "check the ref and the repository")
    return proc.stdout.strip()


def repo_root(start: Path | None = None) -> Path:
    return Path(_git(Path(start or Path.cwd()), "rev-parse", "--show-toplevel"))


def resolve_ref(repo: Path, ref: str) -> str:
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except CompareError:
        raise CompareError(repo, f"ref {ref!r}", "is not a commit in this repository",
                           "pass a branch, tag or commit hash (git rev-parse must resolve it)") from None


@contextmanager
def ref_side(repo: Path, ref: str, label: str, config: Path, tmp: Path) -> Iterator[Side]:
    """A side that runs ``config`` with the code of git ``ref`` (a detached worktree, removed after)."""
    sha = resolve_ref(repo, ref)
    wt = tmp / f"worktree-{label}"
    _git(repo, "worktree", "add", "--detach", "--force", str(wt), sha)
    try:
        shim = build_shim(wt, tmp / f"shim-{label}")
        # The config goes inside the worktree (untracked, so the tree stays clean): runs record the
        # commit of the config's folder, which is then the ref's commit.
        local = wt / f".nscharacterize-ab-{config.name}"
        shutil.copyfile(config, local)
        yield Side(label=f"{label}:{ref}@{sha[:10]}", config=local, cwd=wt, bootstrap=True,
                   env={"PYTHONPATH": os.pathsep.join([str(shim), str(wt)])}, commit=sha)
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(wt)], capture_output=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)


def package_dir(checkout: Path) -> dict[str, str]:
    """The checkout's import-name -> folder map from its pyproject.toml (default layout otherwise)."""
    import tomllib

    try:
        data = tomllib.loads((checkout / "pyproject.toml").read_text())
        mapping = data["tool"]["setuptools"]["package-dir"]
        if isinstance(mapping, dict) and mapping:
            return {k: v for k, v in mapping.items() if k}
    except (OSError, KeyError, ValueError, TypeError):
        pass
    return dict(DEFAULT_PACKAGE_DIR)


def build_shim(checkout: Path, shim: Path) -> Path:
    """A directory of symlinks that lays ``checkout``'s stage folders out as the nscharacterize.* packages."""
    if shim.exists():
        shutil.rmtree(shim)
    shim.mkdir(parents=True)
    mapping = package_dir(checkout)
    for dotted, folder in sorted(mapping.items(), key=lambda kv: kv[0].count(".")):
        src = (checkout / folder).resolve()
        dst = shim.joinpath(*dotted.split("."))
        if not src.is_dir():
            continue
        if dotted.count(".") == 0:
            dst.mkdir(parents=True, exist_ok=True)
            for entry in src.iterdir():
                if entry.name == "__pycache__":
                    continue
                link = dst / entry.name
                if not link.exists():
                    link.symlink_to(entry)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                dst.symlink_to(src, target_is_directory=True)
    return shim


def temp_dir(prefix: str = "nsc-ab-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
