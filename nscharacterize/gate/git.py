"""The gate's calls of git: resolving refs, worktrees for A/B sides, and commit dates for history.

A ref or commit may come from someone else's file (a run directory's manifest is often a CI
artifact of another branch), so none reaches git where it could be read as an option: refs go
after ``--end-of-options``, and a manifest's commit must be a hexadecimal object name.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .errors import CompareError


_OBJECT_NAME = re.compile(r"[0-9a-f]{7,64}")  # a (possibly short) SHA-1 or SHA-256 commit name


def git(repo: Path, *args: str) -> str:
    """stdout of ``git -C repo ARGS``; a failing git is a CompareError naming the command."""
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    except OSError as exc:
        raise CompareError(repo, "git", f"cannot run git ({exc.strerror})", "install git or put it on PATH") from None
    if proc.returncode != 0:
        raise CompareError(repo, "git " + " ".join(args[:2]), proc.stderr.strip().splitlines()[-1]
                           if proc.stderr.strip() else f"exit {proc.returncode}", "check the ref and the repository")
    return proc.stdout.strip()


def repo_root(start: Path | None = None) -> Path:
    return Path(git(Path(start or Path.cwd()), "rev-parse", "--show-toplevel"))


def resolve_ref(repo: Path, ref: str) -> str:
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    except CompareError:
        raise CompareError(repo, f"ref {ref!r}", "is not a commit in this repository",
                           "pass a branch, tag or commit hash (git rev-parse must resolve it)") from None


def commit_date(run_dir: Path, commit: str | None) -> str | None:
    """The committer date (ISO 8601) of ``commit``, looked up from the run's folder, then the working
    directory; None when no repository there knows it."""
    if not isinstance(commit, str) or not _OBJECT_NAME.fullmatch(commit.removesuffix("-dirty")):
        return None  # not a commit hash (nor anything git may read as an option): no date
    commit = commit.removesuffix("-dirty")
    for where in (run_dir, Path.cwd()):
        try:
            proc = subprocess.run(["git", "-C", str(where if where.is_dir() else where.parent), "show", "-s",
                                   "--format=%cI", "--end-of-options", commit],
                                  capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip()
    return None
