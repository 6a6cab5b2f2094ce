"""This tool's own version, as its installed metadata says (pyproject.toml's ``version``), and
the installed versions of the packages a run's fingerprint names.

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
    return package_version("nscharacterize") or "unknown"


def package_version(package: str) -> str | None:
    """An installed distribution's version (the fingerprint's torchvision, numpy, OpenNMT-py),
    None where it is not installed. importlib.metadata is imported here, when asked: not on the
    start of every command."""
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
