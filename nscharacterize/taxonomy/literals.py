"""The text a pattern cannot match without: a prefilter that spares the regular expression engine.

A kernel rule is mostly ``(?i).*(gemm|gemv|matmul|...).*``, matched against the whole name. On a
templated kernel name of 500-1,000 characters Python's ``re`` tries each alternative at each
position, case-folded: about 10 microseconds a rule, and 20-50 ms for the kernel names of a 60
MiB trace. Each of those rules names the text it needs: one of ``gemm``, ``gemv``, ``matmul`` ...
must occur in any name it matches. ``required_literals`` reads that set off the parsed pattern; a
name (lower-cased, ASCII) that holds none of them cannot match, and ``str.__contains__`` says so
in a fraction of the time. Where a pattern needs no fixed text (``.*``, ``\\w+_kernel``) there is no
prefilter and the pattern alone decides. A prefilter only ever answers "cannot match": the
pattern still decides every name that passes it (tests/taxonomy/test_literals.py checks both
ways on the built-in rules and real kernel names).
"""
from __future__ import annotations

import functools
import re

from .backtrack import C, _parser   # this Python's regular expression parser and its node kinds

# Names shorter than this go straight to the pattern: there the engine is as quick as the test.
PREFILTER_FROM = 64

_REPEATS = tuple(op for op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)) if op is not None)
_ATOMIC = getattr(C, "ATOMIC_GROUP", None)


@functools.lru_cache(maxsize=4096)
def required_literals(pattern: re.Pattern) -> tuple[str, ...] | None:
    """Lower-cased texts of which every string ``pattern`` matches (ASCII strings, compared
    lower-cased) holds at least one; None where no such set is known. Of several such sets in a
    pattern, the one whose shortest text is longest (the most selective)."""
    try:
        found = _required(_parser.parse(pattern.pattern, pattern.flags))
    except (re.error, RecursionError, TypeError, ValueError):   # an unexpected parse: no prefilter
        return None
    return tuple(sorted(found)) if found else None


def _required(items) -> frozenset[str] | None:
    """A set of texts one of which every match of the sequence ``items`` contains, or None."""
    candidates: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in items:
        if op == C.LITERAL:
            run.append(chr(av))
            continue
        if run:
            candidates.append(frozenset(["".join(run)]))
            run = []
        found = None
        if op == C.SUBPATTERN:
            found = _required(av[-1])
        elif _ATOMIC is not None and op == _ATOMIC:
            found = _required(av)
        elif op == C.BRANCH:
            each = [_required(alternative) for alternative in av[1]]
            known = [e for e in each if e is not None]
            found = frozenset().union(*known) if len(known) == len(each) else None   # every alternative needs one
        elif op in _REPEATS and av[0] >= 1:   # the body occurs at least once
            found = _required(av[2])
        if found:
            candidates.append(found)
    if run:
        candidates.append(frozenset(["".join(run)]))
    usable = [c for c in candidates if all(text and text.isascii() for text in c)]
    if not usable:
        return None
    best = max(usable, key=lambda c: (min(len(t) for t in c), -len(c)))
    return frozenset(t.lower() for t in best)


def cannot_match(needs: tuple[str, ...] | None, folded: str | None) -> bool:
    """Whether a name, ``folded`` (lower-cased; None for a short or non-ASCII name), lacks every
    text of ``needs``: then the pattern cannot match it."""
    return needs is not None and folded is not None and not any(text in folded for text in needs)


def folded_name(name: str) -> str | None:
    """``name`` lower-cased where the prefilter applies to it (long enough, ASCII), else None."""
    return name.lower() if len(name) >= PREFILTER_FROM and name.isascii() else None
