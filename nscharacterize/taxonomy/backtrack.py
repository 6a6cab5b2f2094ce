"""A static check for regular expressions that can backtrack exponentially.

Python's ``re`` is a backtracking matcher: a quantifier nested inside another, both free to match
the same text (``(a+)+``, ``(.*,)*``), makes a failing match try exponentially many splits, and one
rule can then hang classification for hours. ``nested_quantifier`` finds such nesting in the parsed
pattern before the rule is used. Nesting is allowed where the outer loop's iterations are
delimited by a character the inner loop cannot consume (``json(\\.\\w+)*``): every split is then
forced. The classifier's time bound (``taxonomy.classifier``) catches what this check misses
(overlapping alternatives such as ``(a|a)*``).
"""
from __future__ import annotations

import re
try:  # Python 3.11+: the parser and its node kinds
    from re import _constants as C  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]
except ImportError:  # Python 3.10: the same modules under their old names
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as _parser  # type: ignore[no-redef]

_REPEATS = (C.MAX_REPEAT, C.MIN_REPEAT)
_CATEGORY_TEST = {
    C.CATEGORY_DIGIT: re.compile(r"\d"), C.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    C.CATEGORY_SPACE: re.compile(r"\s"), C.CATEGORY_NOT_SPACE: re.compile(r"\S"),
    C.CATEGORY_WORD: re.compile(r"\w"), C.CATEGORY_NOT_WORD: re.compile(r"\W"),
}


def nested_quantifier(pattern: str) -> bool:
    """True when ``pattern`` nests a variable-length quantifier inside a repeated group whose
    iterations are not delimited (see the module docstring)."""
    return _nested(_parser.parse(pattern))


def _nested(items) -> bool:
    for op, av in items:
        if op in _REPEATS:
            _lo, hi, body = av
            if hi > 1 and _varying_repeats(body) and not _delimited(body):
                return True
            if _nested(body):
                return True
        elif op == C.SUBPATTERN:
            if _nested(av[-1]):
                return True
        elif op == C.BRANCH:
            if any(_nested(b) for b in av[1]):
                return True
    return False  # atomic groups and possessive repeats never backtrack into themselves


def _varying_repeats(items) -> list:
    """Every greedy/lazy repeat in ``items`` whose length can vary (``+``, ``*``, ``{1,3}``)."""
    found = []
    for op, av in items:
        if op in _REPEATS:
            if av[0] != av[1]:
                found.append(av[2])
            found.extend(_varying_repeats(av[2]))
        elif op == C.SUBPATTERN:
            found.extend(_varying_repeats(av[-1]))
        elif op == C.BRANCH:
            for b in av[1]:
                found.extend(_varying_repeats(b))
    return found


def _delimited(body) -> bool:
    """The repeated body starts or ends with a literal that no inner loop can match."""
    flat = _unwrap(body)
    for edge in (flat[:1], flat[-1:]):
        if edge and edge[0][0] == C.LITERAL:
            ch = chr(edge[0][1])
            if all(_single_char(inner) and not _matches(inner[0], ch) for inner in _varying_repeats(body)):
                return True
    return False


def _unwrap(items):
    items = list(items)
    while len(items) == 1 and items[0][0] == C.SUBPATTERN:
        items = list(items[0][1][-1])
    return items


def _single_char(items) -> bool:
    items = _unwrap(items)
    return len(items) == 1 and items[0][0] in (C.LITERAL, C.NOT_LITERAL, C.IN, C.ANY)


def _matches(node, ch: str) -> bool:
    """Whether a one-character node can match ``ch``."""
    op, av = node
    if op == C.LITERAL:
        return chr(av) == ch
    if op == C.NOT_LITERAL:
        return chr(av) != ch
    if op == C.ANY:
        return ch != "\n"
    negate, hit = False, False
    for kind, val in av:  # op == IN
        if kind == C.NEGATE:
            negate = True
        elif kind == C.LITERAL:
            hit |= chr(val) == ch
        elif kind == C.RANGE:
            hit |= val[0] <= ord(ch) <= val[1]
        elif kind == C.CATEGORY:
            test = _CATEGORY_TEST.get(val)
            hit |= test is None or bool(test.fullmatch(ch))
        else:
            hit = True  # unknown node: assume it can
    return hit != negate
