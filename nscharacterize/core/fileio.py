"""The file primitives every stage shares: one atomic writer, one text reader and one YAML loader.

Atomic: a reader (or a crash) sees the old file or the new one, never half of one. Files get the
permissions any file the user writes gets (0666 minus the umask), not mkstemp's private 0600,
so a run directory can be published as a CI artifact or shared.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(target: str | Path, write: Callable[[str], Any]) -> Path:
    """Calls ``write(tmp_path)`` on a temporary file beside ``target``, then renames it over."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def atomic_write_text(target: str | Path, text: str) -> Path:
    return atomic_write(target, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def read_text(path: str | Path, what: str = "file", error: type[UserError] = UserError) -> str:
    """UTF-8 text of ``path``; a missing, unreadable or non-UTF-8 file is a one-line user error."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(path, "", f"no such {what}", "check the path") from None
    except IsADirectoryError:
        raise error(path, "", f"is a folder, not a {what}", "give the file's path") from None
    except UnicodeDecodeError as exc:
        raise error(path, "", f"not UTF-8 text (byte {exc.start})", f"save the {what} as UTF-8") from None
    except OSError as exc:
        raise error(path, "", f"cannot read the {what} ({exc.strerror})", "check its permissions") from None


# libyaml's safe loader where PyYAML was built with it (about 5x faster than the pure-Python one:
# the rule files are read by every import-trace and report), the same safe subset of YAML.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: str | Path, what: str = "YAML file", error: type[UserError] = UserError) -> Any:
    """Parsed YAML of ``path`` (None for an empty file); bad syntax names line and column."""
    text = read_text(path, what, error)
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader: libyaml's when built)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = getattr(exc, "problem", None) or "syntax error"
        raise error(path, "", f"invalid YAML at {where}: {problem}", "fix the syntax") from None


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False)
