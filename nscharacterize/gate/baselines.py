"""Named baselines a repository can commit: the few small files compare needs, copied from a run.

``.nscharacterize/baselines/NAME/`` holds manifest.json, config.yaml, breakdown.csv, samples.csv and
timings.csv (no events, traces or plots), so it is a valid run directory for ``compare``. A run
is checked as compare will read it before anything is copied. Saving and removing hold an
exclusive lock on the store (``.lock``), and a baseline appears by one rename of a complete copy,
so concurrent saves never mix files, and ``--force`` replaces a baseline whole.
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from nscharacterize.rundir import store as rundir

from . import runs
from .errors import CompareError
from .settings import DEFAULT_STORE

FILES = (rundir.MANIFEST, rundir.CONFIG, rundir.BREAKDOWN, rundir.SAMPLES, rundir.TIMINGS)
LOCK = ".lock"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):  # fullmatch: "main\n" is no name
        raise CompareError("--name", repr(name), "is not a valid baseline name",
                           "use letters, digits, '.', '_' or '-' (e.g. main or v1.2)")
    return name


@contextmanager
def _locked(store: Path) -> Iterator[None]:
    """An exclusive lock on the store, held by one save or remove at a time (waits for the others)."""
    try:
        store.mkdir(parents=True, exist_ok=True)
        fd = os.open(store / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise CompareError(store, "store", f"cannot use the baseline store ({exc.strerror})",
                           "pass a writable --store") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)   # releases the lock


def save(run: str | Path, name: str, store: str | Path = DEFAULT_STORE, force: bool = False) -> Path:
    """Copies a run's compare files into ``store/name``; returns that directory."""
    check_name(name)
    run = Path(run)
    rd, man = runs.open_run(run)  # the manifest fields compare relies on,
    runs.check_finished(rd, man)  # a run still being written is no baseline yet,
    rd.samples()                 # samples.csv as compare reads it,
    _ = rd.config                # and the config it diffs (missing or corrupt YAML is refused)
    store = Path(store)
    dest = store / name
    with _locked(store):
        if dest.exists() and not force:
            raise CompareError(dest, "baseline", f"{name!r} already exists",
                               "pass --force to replace it or pick another --name")
        # Under the lock these names are this save's alone; leftovers of a killed save are dropped.
        tmp, old = store / f".{name}.tmp", store / f".{name}.old"
        try:
            for leftover in (tmp, old):
                if leftover.exists():
                    shutil.rmtree(leftover)
            tmp.mkdir()
            for f in FILES:
                if (run / f).is_file():
                    shutil.copyfile(run / f, tmp / f)
            if dest.exists():
                os.replace(dest, old)
            os.replace(tmp, dest)
            if old.exists():
                shutil.rmtree(old)
        except OSError as exc:
            raise CompareError(dest, "baseline", f"cannot write it ({exc.strerror or exc})",
                               "check the store's permissions and free space") from None
    return dest


def path(name: str, store: str | Path = DEFAULT_STORE) -> Path:
    """The directory of a saved baseline (a worded error, listing the ones there are, if absent)."""
    check_name(name)
    dest = Path(store) / name
    if not (dest / rundir.MANIFEST).is_file():
        have = names(store)
        listing = f" (saved: {', '.join(have)})" if have else ""
        raise CompareError(dest, "baseline", f"{name!r} not found in {store}{listing}",
                           f"save one with `nscharacterize baseline save RUN --name {name}` or pass --store")
    return dest


def names(store: str | Path = DEFAULT_STORE) -> list[str]:
    store = Path(store)
    if not store.is_dir():
        return []
    return sorted(p.name for p in store.iterdir() if not p.name.startswith(".") and (p / rundir.MANIFEST).is_file())


def remove(name: str, store: str | Path = DEFAULT_STORE) -> Path:
    with _locked(Path(store)):
        dest = path(name, store)
        try:
            if dest.is_symlink():  # a link to a baseline elsewhere: the link goes, never what it names
                dest.unlink()
            else:
                shutil.rmtree(dest)
        except OSError as exc:
            raise CompareError(dest, "baseline", f"cannot remove it ({exc.strerror or exc})",
                               "check the store's permissions") from None
    return dest
