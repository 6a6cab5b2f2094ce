"""A/B sides that run the code of a git ref: a detached worktree of the ref, first on the import path.

Works in any git repository, not only this one. Each side runs ``python -m nscharacterize.cli run``
with the worktree as its working directory and first on ``PYTHONPATH`` (the caller's PYTHONPATH
after it), so the user's own modules (``workload: mymodels:pipeline``) are imported from the ref,
and ``nscharacterize`` itself from wherever the gate is installed -- unless the repository *is*
nscharacterize: then its ``nscharacterize/`` folder in the worktree comes first (a standard
package, found on the path before the editable install's finder), so each side measures its own
version of the tool too.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from nscharacterize.core.fileio import read_text

from .abrun import Plan, Side, interleave, temp_dir
from .errors import CompareError
from .git import git, repo_root, resolve_ref

@contextmanager
def ref_side(repo: Path, ref: str, label: str, config: Path, tmp: Path) -> Iterator[Side]:
    """A side that runs ``config`` with the code of git ``ref`` (a detached worktree, removed after)."""
    sha = resolve_ref(repo, ref)
    wt = tmp / f"worktree-{label}"
    git(repo, "worktree", "add", "--detach", "--force", str(wt), sha)
    try:
        # The config goes inside the worktree (untracked, so the tree stays clean): runs record the
        # commit of the config's folder, which is then the ref's commit.
        local = wt / f".nscharacterize-ab-{config.name}"
        shutil.copyfile(config, local)
        path = os.pathsep.join(p for p in (str(wt), os.environ.get("PYTHONPATH", "")) if p)
        yield Side(label=f"{label}:{ref}@{sha[:10]}", config=local, cwd=wt, env={"PYTHONPATH": path}, commit=sha)
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(wt)], capture_output=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)


def run_refs(ref_a: str, ref_b: str, config: Path, rounds: int, samples: int | None, out: Path | None,
             log=lambda s: None, plan: Plan | None = None) -> tuple[Path, Path]:
    """``config`` run with the code of two git refs of the working directory's repository, interleaved."""

    read_text(config, "config", CompareError)   # a missing config fails before any worktree is made
    repo = repo_root()
    for ref in (ref_a, ref_b):
        resolve_ref(repo, ref)                   # a ref that does not exist fails before any round runs
    out = (out or temp_dir()).resolve()
    out.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir("nsc-refs-")
    try:
        with ref_side(repo, ref_a, "A", config.resolve(), tmp) as side_a, \
                ref_side(repo, ref_b, "B", config.resolve(), tmp) as side_b:
            return interleave(side_a, side_b, rounds, samples, out, log=log, plan=plan)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
