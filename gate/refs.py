"""A/B sides that run the code of a git ref: a detached worktree plus a shim that lays its stage
folders out as the ``nscharacterize.*`` packages.

The shim follows the ref's own pyproject.toml package map (the one place the folder -> package map
is written), and the bootstrap drops this checkout's editable-install finder, so every import of
a side comes from the ref's tree.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as a package
    import tomli as tomllib

from nscharacterize.fileio import read_text

from .abrun import Side, interleave, temp_dir
from .errors import CompareError
from .git import git, repo_root, resolve_ref

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
BOOTSTRAP = ISOLATE + "runpy.run_module('nscharacterize.cli', run_name='__main__', alter_sys=True)"


@contextmanager
def ref_side(repo: Path, ref: str, label: str, config: Path, tmp: Path) -> Iterator[Side]:
    """A side that runs ``config`` with the code of git ``ref`` (a detached worktree, removed after)."""
    sha = resolve_ref(repo, ref)
    wt = tmp / f"worktree-{label}"
    git(repo, "worktree", "add", "--detach", "--force", str(wt), sha)
    try:
        shim = build_shim(wt, tmp / f"shim-{label}", ref)
        # The config goes inside the worktree (untracked, so the tree stays clean): runs record the
        # commit of the config's folder, which is then the ref's commit.
        local = wt / f".nscharacterize-ab-{config.name}"
        shutil.copyfile(config, local)
        yield Side(label=f"{label}:{ref}@{sha[:10]}", config=local, cwd=wt, bootstrap=BOOTSTRAP,
                   env={"PYTHONPATH": os.pathsep.join([str(shim), str(wt)])}, commit=sha)
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(wt)], capture_output=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)


def package_dir(checkout: Path, ref: str = "") -> dict[str, str]:
    """The checkout's import-name -> folder map, from its pyproject.toml's [tool.setuptools] package-dir."""
    file = checkout / "pyproject.toml"
    where = f"{ref}:pyproject.toml" if ref else file
    try:
        mapping = tomllib.loads(read_text(file, "pyproject.toml", CompareError))["tool"]["setuptools"]["package-dir"]
    except (KeyError, TypeError):
        mapping = None
    except tomllib.TOMLDecodeError as exc:
        raise CompareError(where, "", f"invalid TOML ({exc})", "pick a ref whose pyproject.toml parses") from None
    if not isinstance(mapping, dict) or not mapping:
        raise CompareError(where, "tool.setuptools.package-dir", "missing",
                           "the ref predates the stage-folder layout; pick a newer ref")
    return {k: v for k, v in mapping.items() if k}


def build_shim(checkout: Path, shim: Path, ref: str = "") -> Path:
    """A directory of symlinks that lays ``checkout``'s stage folders out as the nscharacterize.* packages."""
    if shim.exists():
        shutil.rmtree(shim)
    shim.mkdir(parents=True)
    mapping = package_dir(checkout, ref)
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
