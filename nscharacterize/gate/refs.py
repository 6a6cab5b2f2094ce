"""A/B sides that run the code of a git ref: a detached worktree of the ref, first on the import path.

The package is a standard one (``nscharacterize/`` at the root), so the worktree on PYTHONPATH (and
as the working directory of ``python -m``) is found before the editable install's finder, which
Python consults after the path; no shim is needed.
"""
from __future__ import annotations

import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from nscharacterize.core.fileio import read_text

from .abrun import Side, interleave, temp_dir
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
        yield Side(label=f"{label}:{ref}@{sha[:10]}", config=local, cwd=wt,
                   env={"PYTHONPATH": str(wt)}, commit=sha)
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(wt)], capture_output=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)


def run_refs(ref_a: str, ref_b: str, config: Path, rounds: int, samples: int | None, out: Path | None,
             log=lambda s: None) -> tuple[Path, Path]:
    """``config`` run with the code of two git refs of the working directory's repository, interleaved."""

    read_text(config, "config", CompareError)   # a missing config fails before any worktree is made
    repo = repo_root()
    out = (out or temp_dir()).resolve()
    out.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir("nsc-refs-")
    try:
        with ref_side(repo, ref_a, "A", config.resolve(), tmp) as side_a, \
                ref_side(repo, ref_b, "B", config.resolve(), tmp) as side_b:
            return interleave(side_a, side_b, rounds, samples, out, log=log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
