"""Named baselines a repository can commit: the few small files compare needs, copied from a run.

``.nscharacterize/baselines/NAME/`` holds manifest.json, config.yaml, breakdown.csv, samples.csv and
timings.csv (no events, traces or plots), so it is a valid run directory for ``compare``.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from .compare import CompareError, load_run

DEFAULT_STORE = Path(".nscharacterize") / "baselines"
FILES = ("manifest.json", "config.yaml", "breakdown.csv", "samples.csv", "timings.csv")
REQUIRED = ("manifest.json", "config.yaml", "samples.csv")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise CompareError("--name", repr(name), "is not a valid baseline name",
                           "use letters, digits, '.', '_' or '-' (e.g. main or v1.2)")
    return name


def save(run: str | Path, name: str, store: str | Path = DEFAULT_STORE, force: bool = False) -> Path:
    """Copies a run's compare files into ``store/name``; returns that directory."""
    check_name(name)
    run = Path(run)
    rd = load_run(run)          # validates manifest (and raises a worded error on a bad run)
    rd.samples()                # ... and that samples.csv reads
    for f in REQUIRED:
        if not (run / f).is_file():
            raise CompareError(run / f, f, "missing", "rerun `nscharacterize run`; a baseline needs this file")
    dest = Path(store) / name
    if dest.exists() and not force:
        raise CompareError(dest, "baseline", f"{name!r} already exists", "pass --force to replace it or pick another --name")
    tmp = dest.with_name(dest.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for f in FILES:
        if (run / f).is_file():
            shutil.copyfile(run / f, tmp / f)
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest


def path(name: str, store: str | Path = DEFAULT_STORE) -> Path:
    """The directory of a saved baseline (a worded error, listing the ones there are, if absent)."""
    check_name(name)
    dest = Path(store) / name
    if not (dest / "manifest.json").is_file():
        have = names(store)
        listing = f" (saved: {', '.join(have)})" if have else ""
        raise CompareError(dest, "baseline", f"{name!r} not found in {store}{listing}",
                           f"save one with `nscharacterize baseline save RUN --name {name}` or pass --store")
    return dest


def names(store: str | Path = DEFAULT_STORE) -> list[str]:
    store = Path(store)
    if not store.is_dir():
        return []
    return sorted(p.name for p in store.iterdir() if (p / "manifest.json").is_file())


def remove(name: str, store: str | Path = DEFAULT_STORE) -> Path:
    dest = path(name, store)
    shutil.rmtree(dest)
    return dest
