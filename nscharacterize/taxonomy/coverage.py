"""Which ATen ops registered in the installed torch have an explicit rule."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .categories import CATEGORIES
from .classifier import Taxonomy


@dataclass
class Coverage:
    total: int
    by_category: dict[str, int]
    missing: list[str]

    @property
    def covered(self) -> int:
        return self.total - len(self.missing)

    @property
    def fraction(self) -> float:
        return self.covered / self.total if self.total else 1.0


def registered_aten_ops() -> list[str]:
    """Base names (overloads folded) of every op in the ``aten`` name space of this torch."""
    import torch

    names = {n.split(".")[0] for n in torch._C._dispatch_get_all_op_names() if n.startswith("aten::")}
    return sorted(names)


def coverage(taxonomy: Taxonomy, ops: list[str] | None = None) -> Coverage:
    ops = registered_aten_ops() if ops is None else ops
    counts: Counter = Counter()
    missing = []
    for op in ops:
        rule = taxonomy.first_match("ops", op, source="op")
        if rule is None:
            missing.append(op)
        else:
            counts[rule.category] += 1
    return Coverage(len(ops), {c: counts.get(c, 0) for c in CATEGORIES}, missing)
