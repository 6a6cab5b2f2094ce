"""Rule files: ordered YAML lists of (pattern -> category, reason), one file per name space.

Name spaces: ``ops`` (dispatcher ops seen by torch.profiler: ``aten::``, ``torchvision::``, runtime
API calls, user ranges), ``kernels`` (CUDA kernel names) and ``python`` (functions seen by
cProfile). First match wins, so specific rules (an ``addmm`` inside a sparse product) come
before general ones (every ``addmm``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nscharacterize.core.errors import UserError
from nscharacterize.core.fileio import load_yaml

from .backtrack import nested_quantifier
from .categories import CATEGORIES, PY_CATEGORIES

RULES_DIR = Path(__file__).parent / "rules"
NAMESPACES = ("ops", "kernels", "python")  # the one list of rule name spaces
_ALLOWED_KEYS = {"id", "match", "within", "calls", "source", "category", "reason", "overrides_launcher", "scalar"}
_TEXT_KEYS = ("id", "match", "within", "calls", "source", "category", "reason")
SOURCES = ("op", "runtime", "annotation")  # event sources a rule may be limited to
MAX_PATTERN = 5_000  # characters; built-in patterns stay under 1,500


class RuleFileError(UserError):
    """A rule file that cannot be used: file, rule, what is wrong, fix."""


@dataclass(frozen=True)
class Rule:
    """One classification rule.

    ``match`` must match the whole name. ``within`` (optional) must match the name of some
    enclosing op; ``calls`` (optional) must match the name of some op this op called directly.
    ``source`` (optional) limits the rule to events of that source (e.g. ``annotation``).
    ``overrides_launcher`` (kernels only): the kernel's own category wins over its launching op's.
    ``scalar`` (optional, true or false): the event's recorded inputs are all 0-dimensional (no
    tensor argument with a dimension, no non-empty size list), as when a Python number operand is
    wrapped into a 0-dim tensor and cast to the op's dtype (``SCALAR_INPUTS`` in classifier.py).
    """

    id: str
    namespace: str
    match: re.Pattern
    category: str
    reason: str
    within: re.Pattern | None = None
    calls: re.Pattern | None = None
    source: str | None = None
    overrides_launcher: bool = False
    file: str = ""
    scalar: bool | None = None

    def matches(self, name: str, ancestors: tuple[str, ...] = (), children: tuple[str, ...] = (),
                source: str | None = None, scalar: bool = False) -> bool:
        if self.source is not None and source != self.source:
            return False
        if self.scalar is not None and scalar != self.scalar:
            return False
        if not self.match.fullmatch(name):
            return False
        if self.within is not None and not any(self.within.fullmatch(a) for a in ancestors):
            return False
        if self.calls is not None and not any(self.calls.fullmatch(c) for c in children):
            return False
        return True


def load_rules(namespace: str, extra_files: tuple[str | Path, ...] = ()) -> list[Rule]:
    """Loads a name space's rules: user files first (so they can override), then the built-ins."""
    files = [Path(f) for f in extra_files] + [RULES_DIR / f"{namespace}.yaml"]
    rules: list[Rule] = []
    for path in files:
        rules.extend(_load_file(path, namespace))
    return rules


def _load_file(path: Path, namespace: str) -> list[Rule]:
    """The rules of one file, read and checked once per process while the file is unchanged
    (Rule is frozen, so every Taxonomy can share them): the static backtracking check and the
    compilation of a few hundred patterns cost about a second."""
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size, namespace)
    except OSError:
        return _read_file(path, namespace)   # the loader names the problem
    if key not in _LOADED:
        _LOADED[key] = _read_file(path, namespace)
    return list(_LOADED[key])


_LOADED: dict[tuple, list[Rule]] = {}


def _read_file(path: Path, namespace: str) -> list[Rule]:
    builtin = path.resolve().parent == RULES_DIR.resolve()
    doc = load_yaml(path, "rule file", RuleFileError)
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise RuleFileError(path, "rules", "must be a mapping with a 'rules' list", "see nscharacterize/taxonomy/rules/ops.yaml")
    file_ns = doc.get("namespace", namespace)
    if file_ns != namespace:  # skipping it would drop its rules, and any mistake in them, unsaid
        raise RuleFileError(path, "namespace", f"is {file_ns!r}, but the file is used for the {namespace!r} rules",
                            f"list it under taxonomy.rules.{file_ns}, or set namespace: {namespace}"
                            if file_ns in NAMESPACES else f"set namespace: {namespace} (or leave it out)")
    allowed = PY_CATEGORIES if namespace == "python" else CATEGORIES
    out = []
    for i, raw in enumerate(doc["rules"]):
        where = f"rules[{i}]"
        if not isinstance(raw, dict):
            raise RuleFileError(path, where, "must be a mapping", "give match, category and reason")
        unknown = set(raw) - _ALLOWED_KEYS
        if unknown:
            raise RuleFileError(path, where, f"unknown key(s) {sorted(unknown)}", f"allowed: {sorted(_ALLOWED_KEYS)}")
        for key in _TEXT_KEYS:
            if key in raw and raw[key] is not None and not isinstance(raw[key], str):
                raise RuleFileError(path, f"{where}.{key}", f"must be text, not {type(raw[key]).__name__} "
                                    f"({raw[key]!r})", "quote it")
        for key in ("match", "category", "reason"):
            if not raw.get(key):
                raise RuleFileError(path, f"{where}.{key}", "missing", "every rule needs match, category and reason")
        if raw.get("source") is not None and raw["source"] not in SOURCES:
            raise RuleFileError(path, f"{where}.source", f"{raw['source']!r} is not an event source",
                                f"use one of {', '.join(SOURCES)}")
        if not isinstance(raw.get("scalar", False), bool):
            raise RuleFileError(path, f"{where}.scalar", f"must be true or false, not {raw['scalar']!r}",
                                "write true or false")
        if not isinstance(raw.get("overrides_launcher", False), bool):
            raise RuleFileError(path, f"{where}.overrides_launcher", f"must be true or false, not "
                                f"{raw['overrides_launcher']!r}", "write true or false")
        if raw["category"] not in allowed:
            raise RuleFileError(path, f"{where}.category", f"{raw['category']!r} is not a category",
                                f"use one of {', '.join(allowed)}")
        out.append(Rule(id=str(raw.get("id") or f"{namespace}:{raw['match']}"), namespace=namespace,
                        match=_compile(raw["match"], path, where, "match", builtin), category=raw["category"],
                        reason=str(raw["reason"]).strip(),
                        within=_compile(raw["within"], path, where, "within", builtin) if raw.get("within") else None,
                        calls=_compile(raw["calls"], path, where, "calls", builtin) if raw.get("calls") else None,
                        source=raw.get("source"), overrides_launcher=bool(raw.get("overrides_launcher", False)),
                        file=str(path), scalar=raw.get("scalar")))
    return out


def _compile(pattern: str, path: Path, where: str, key: str, builtin: bool = False) -> re.Pattern:
    """The compiled pattern, refused if it is malformed, huge, or can backtrack exponentially.
    The built-in rules skip the backtracking check, which parses every pattern a second time:
    tests/taxonomy/test_taxonomy.py runs it on them once."""
    shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
    if len(pattern) > MAX_PATTERN:
        raise RuleFileError(path, f"{where}.{key}", f"pattern is {len(pattern)} characters long",
                            f"split it into rules of at most {MAX_PATTERN} characters")
    try:
        compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise RuleFileError(path, f"{where}.{key}", f"bad regular expression {shown!r} ({exc})",
                            "fix the pattern") from None
    if not builtin and nested_quantifier(pattern):
        raise RuleFileError(path, f"{where}.{key}", f"pattern {shown!r} nests a quantifier inside a repeated "
                            "group, which can backtrack exponentially",
                            "avoid nesting such as (a+)+ or (.*,)*: delimit each repetition (\\.\\w+)*, "
                            "or make the inner group atomic (?>...)")
    return compiled
