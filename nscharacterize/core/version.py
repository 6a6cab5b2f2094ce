"""This tool's own version, as its installed metadata says (pyproject.toml's ``version``).

Printed by ``nscharacterize --version`` and kept in every run's fingerprint (``nscharacterize``):
the built-in rules, the attribution and the gate change between versions, so a run says which
version measured and classified it, and ``compare`` notes when two runs' versions differ.
"""
from __future__ import annotations

import functools


@functools.cache
def tool_version() -> str:
    """The installed version, or ``unknown`` where the package runs from a folder without being
    installed (no metadata to read)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nscharacterize")
    except PackageNotFoundError:
        return "unknown"
