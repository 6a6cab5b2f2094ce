"""The file primitives every stage shares: one atomic writer, one text reader and one YAML loader.

Atomic: a reader (or a crash) sees the old file or the new one, never half of one. Files get the
permissions any file the user writes gets (0666 minus the umask), not mkstemp's private 0600,
so a run directory can be published as a CI artifact or shared. The writer replaces regular files
only: a path naming a device, a pipe or a folder (``--json /dev/full`` as root) is refused, since
renaming over it would destroy what is there.

YAML is read with bounds (nesting depth, nodes after aliases are expanded): a config, rule file or
run directory may come from someone else, and a 1 KB "billion laughs" document would otherwise
expand to gigabytes in whatever walks it next.
"""
from __future__ import annotations

import errno
import os
import re
import stat
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
    try:
        mode = os.lstat(target).st_mode
    except OSError:
        mode = None  # absent (or unreachable: mkstemp below says why)
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise UserError(target, "", "is not a regular file (a device, pipe, socket or folder); only regular "
                        "files are replaced", "give the path of a new or regular file")
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:  # a read-only or immutable folder (someone else's run directory)
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise UserError(target.parent, "", f"cannot write into this folder ({exc.strerror})",
                            "check its permissions, or work on a copy") from None
        raise
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
# the rule files are read by every import-trace and report), the same safe subset of YAML. The
# bounds are checked on the composed node graph, before any Python object is built from it.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BRACKETS = re.compile(r"[\[\]{}]")
_MAX_BRACKETS = 256          # unbalanced [ and { anywhere in the text, strings included: no real document has this
MAX_YAML_DEPTH = 64          # nesting levels of one YAML document
MAX_YAML_NODES = 200_000     # scalars, lists and mappings, each alias counted as what it expands to


class _TooDeep(Exception):
    def __init__(self, node):
        self.mark = node.start_mark


def _bracket_depth(text: str) -> int:
    depth = deepest = 0
    for char in _BRACKETS.findall(text):
        depth += 1 if char in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _measure(node, depth: int, seen: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(nodes with every alias expanded, levels below) of ``node``; a node shared by aliases is
    measured once (``seen``), so a billion laughs costs its own size here, not its expansion.
    Raises _TooDeep past MAX_YAML_DEPTH levels (recursion stays within that)."""
    key = id(node)
    if key not in seen:
        if depth > MAX_YAML_DEPTH:
            raise _TooDeep(node)
        if isinstance(node, yaml.SequenceNode):
            parts = [_measure(child, depth + 1, seen) for child in node.value]
        elif isinstance(node, yaml.MappingNode):
            parts = [_measure(part, depth + 1, seen) for pair in node.value for part in pair]
        else:
            parts = []
        seen[key] = (1 + sum(p[0] for p in parts), 1 + max((p[1] for p in parts), default=0))
    size, height = seen[key]
    if depth + height > MAX_YAML_DEPTH + 1:
        raise _TooDeep(node)
    return size, height


def parse_yaml(text: str, path: str | Path, what: str = "YAML file", error: type[UserError] = UserError,
               fix: str = "fix the syntax") -> Any:
    """Parsed YAML of ``text`` read from ``path`` (None for an empty document), within the bounds
    above; bad syntax names line and column, and any failure is one ``error`` line."""
    if _bracket_depth(text) > _MAX_BRACKETS:  # the parser recurses per flow level: refuse first
        raise error(path, "", f"brackets nested deeper than {_MAX_BRACKETS} levels", fix)
    loader = None
    try:
        loader = _SAFE_LOADER(text)  # the reader already refuses control characters here
        node = loader.get_single_node()
        if node is None:
            return None
        size, _ = _measure(node, 1, {})
        if size > MAX_YAML_NODES:
            raise error(path, "", f"expands to {size:,} values (aliases included), more than {MAX_YAML_NODES:,}",
                        fix)
        return loader.construct_document(node)
    except _TooDeep as exc:
        raise error(path, "", f"invalid YAML at line {exc.mark.line + 1}, column {exc.mark.column + 1}: "
                    f"nested deeper than {MAX_YAML_DEPTH} levels", fix) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = getattr(exc, "problem", None) or "syntax error"
        raise error(path, "", f"invalid YAML at {where}: {problem}", fix) from None
    except (RecursionError, ValueError, OverflowError) as exc:  # e.g. an int too long to convert
        raise error(path, "", f"unreadable YAML ({type(exc).__name__}: {str(exc)[:80]})", fix) from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml(path: str | Path, what: str = "YAML file", error: type[UserError] = UserError) -> Any:
    """Parsed YAML of ``path`` (None for an empty file), bounded as ``parse_yaml``."""
    return parse_yaml(read_text(path, what, error), path, what, error)


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False)
