"""How numbers and tables look in text: one time formatter, one byte formatter, one table layout.

Every table, figure label, compare report and history trend uses these, so the same value reads
the same everywhere.
"""
from __future__ import annotations

import math
from collections.abc import Sequence


def fmt_time(seconds: float | None) -> str:
    """Scales to us / ms / s so that a table of mixed magnitudes stays readable; '-' if unknown."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    a = abs(seconds)
    if a == 0:
        return "0"
    if a < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if a < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_bytes(n: float) -> str:
    if n != n:  # NaN: not measured (cProfile components)
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def fmt_device(fingerprint: dict) -> str:
    """The device a run measured, as the reports name it: an imported trace's GPU maker (cuda,
    rocm, xpu: torch files them all under "cuda") where the manifest records one, else the device."""
    return str(fingerprint.get("accelerator") or fingerprint.get("device", "?"))


def markdown_table(header: list[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain-text table for terminals and logs: left-aligned columns two spaces apart, a dashed
    rule under the header (for output that must stay readable when piped or grepped, unlike rich)."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)
