"""Sorts events into categories with the rule files, once per unique name in a table.

A profile holds few distinct op names and many calls, so the classifier matches rules against
the unique (source, name, ancestors, children) keys and broadcasts the answer back: the cost is
in the number of distinct keys, not in the number of events. Verdicts are kept per key, so a run
that classifies each sample as it finishes matches every distinct key once.

Matching one name against the rules has a CPU-time bound (``MATCH_LIMIT_S``): a pattern that
backtracks catastrophically and slipped past the static check (nscharacterize/taxonomy/backtrack.py) becomes a
one-line error naming the rule, not a hang.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re
import signal
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .literals import cannot_match, folded_name, required_literals
from .rules import NAMESPACES, Rule, RuleFileError, load_rules

MATCH_LIMIT_S = 2.0  # CPU seconds to match one name against a name space's rules (normal: microseconds)

SEP_ANCESTORS = ">"   # ancestors are stored outermost first: "aten::mm>aten::_sparse_addmm"
SEP_CHILDREN = "|"    # direct children, sorted and unique

# An event whose recorded inputs are all 0-dimensional: every shape "[]" (a 0-dim tensor, or an
# argument that is not a tensor) and no non-empty list among the concrete sizing arguments. The
# ``scalar`` key of a rule tests it (the wrapping of a Python number operand, ops.yaml).
SCALAR_SHAPES = re.compile(r"\[(?:\[\](?:, )?)*\]")


@dataclass(frozen=True)
class Verdict:
    category: str
    rule: Rule | None          # None: no explicit rule matched (counted as Other, unmatched)
    subcategory: str = ""      # Python category for cProfile functions
    via: str = ""              # how a kernel or runtime call got its category: its own rule or "launching op"


class Taxonomy:
    """The loaded rule sets of the three name spaces."""

    def __init__(self, extra_rule_files: Mapping[str, Sequence[str | Path]] | None = None):
        extra = extra_rule_files or {}
        self.rules = {ns: load_rules(ns, tuple(extra.get(ns, ()))) for ns in NAMESPACES}
        self._verdicts: dict[tuple, Verdict] = {}
        self._matches: dict[tuple, Rule | None] = {}

    @functools.cached_property
    def digest(self) -> str:
        """What decides the categories, in 12 hex digits: every rule in order, by what it matches
        and the category it gives (not its id, reason or file). Kept in a run's fingerprint
        (``rules``), so that ``compare`` says when two runs were classified by different rules (a
        user's file edited or added, another version of the built-in ones): their category
        changes may be the rules', not the code's."""
        h = hashlib.sha256()
        for ns in NAMESPACES:
            for r in self.rules[ns]:
                fields = (ns, r.match.pattern, r.match.flags, r.category, r.within and r.within.pattern,
                          r.calls and r.calls.pattern, r.source, r.overrides_launcher, r.scalar)
                h.update(repr(fields).encode() + b"\n")
        return h.hexdigest()[:12]

    def first_match(self, namespace: str, name: str, ancestors: tuple[str, ...] = (),
                    children: tuple[str, ...] = (), source: str | None = None, scalar: bool = False) -> Rule | None:
        """The first rule of ``namespace`` that matches, or None. Kept per question: a kernel's
        name is asked once for its communication flag and again for every launching op it has,
        and a launching op once per kernel key it launches; a long templated kernel name costs
        milliseconds against the kernel rules (half of the matching time of a 60 MiB trace)."""
        key = (namespace, name, ancestors, children, source, scalar)
        try:
            return self._matches[key]
        except KeyError:
            rule = self._matches[key] = self._first_match(namespace, name, ancestors, children, source, scalar)
            return rule

    def _first_match(self, namespace: str, name: str, ancestors: tuple[str, ...], children: tuple[str, ...],
                     source: str | None, scalar: bool) -> Rule | None:
        trying: list[Rule] = []
        folded = folded_name(name)   # long names skip, by their text, the rules they cannot match (literals.py)
        try:
            with _cpu_time_bound(MATCH_LIMIT_S):
                for rule in self.rules[namespace]:
                    if folded is not None and cannot_match(required_literals(rule.match), folded):
                        continue
                    trying[:] = [rule]
                    if rule.matches(name, ancestors, children, source, scalar):
                        return rule
        except _MatchTimeout:
            rule = trying[0]
            shown = name if len(name) <= 60 else name[:57] + "..."
            raise RuleFileError(rule.file, f"rule {rule.id}", f"matching {shown!r} took over {MATCH_LIMIT_S:g} s "
                                "of CPU (catastrophic backtracking)",
                                "simplify the pattern: no overlapping alternatives or nested quantifiers") from None
        return None

    def classify(self, source: str, name: str, ancestors: tuple[str, ...] = (),
                 children: tuple[str, ...] = (), scalar: bool = False) -> Verdict:
        """Classifies one event; ``source`` is op, runtime, annotation, kernel or python; ``scalar``:
        its recorded inputs are all 0-dimensional (``scalar_inputs``)."""
        key = (source, name, ancestors, children, scalar)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdicts[key] = self._classify(source, name, ancestors, children, scalar)
        return verdict

    def _classify(self, source: str, name: str, ancestors: tuple[str, ...], children: tuple[str, ...],
                  scalar: bool = False) -> Verdict:
        if source == "python":
            rule = self.first_match("python", name)
            return Verdict("other", rule, subcategory=rule.category if rule else "other")
        if source == "kernel":
            rule = self.first_match("kernels", name)
            if rule is not None and rule.overrides_launcher:
                return Verdict(rule.category, rule, via="kernel rule")
            if ancestors:  # the launching op is the innermost ancestor
                launcher = self.first_match("ops", ancestors[-1], ancestors[:-1], (), "op")
                # A launcher in Other (a range, the autograd engine, a CUDA-graph replay) says
                # nothing about the work: the kernel's own name does, where a rule knows it.
                if launcher is not None and (launcher.category != "other" or rule is None):
                    return Verdict(launcher.category, launcher, via="launching op")
            return Verdict(rule.category, rule, via="kernel rule") if rule else Verdict("other", None)
        if source == "runtime" and ancestors:
            # A launch, copy or synchronous wait on the host is part of the op that made it (the
            # paper's host time per op): it takes the category of its innermost enclosing op.
            launcher = self.first_match("ops", ancestors[-1], ancestors[:-1], (), "op")
            if launcher is not None:
                return Verdict(launcher.category, launcher, via="launching op")
        rule = self.first_match("ops", name, ancestors, children, source, scalar)
        return Verdict(rule.category if rule else "other", rule)

    def classify_events(self, events: pd.DataFrame) -> pd.DataFrame:
        """Returns ``events`` with ``category``, ``subcategory`` and ``rule`` columns filled in."""
        out = events.copy(deep=False)  # copy-on-write: the caller's frame is never modified
        if out.empty:
            for col in ("category", "subcategory", "rule"):
                out[col] = pd.Series(dtype="string")
            return out
        keys = ["source", "name", "ancestors", "children", "_scalar"]
        out["_scalar"] = scalar_inputs(out)
        codes = _joint_codes(out, keys)
        first = np.unique(codes, return_index=True)[1]  # sorted codes: the k-th entry is key k
        uniques = out.iloc[first][keys]
        out = out.drop(columns="_scalar")
        verdicts = [self.classify(src, name, _split(anc, SEP_ANCESTORS), _split(ch, SEP_CHILDREN), bool(sc))
                    for src, name, anc, ch, sc in uniques.itertuples(index=False)]
        out["category"] = _categorical([v.category for v in verdicts], codes)
        out["subcategory"] = _categorical([v.subcategory for v in verdicts], codes)
        out["rule"] = _categorical([v.rule.id if v.rule else "" for v in verdicts], codes)
        return out


def scalar_inputs(events: pd.DataFrame) -> np.ndarray:
    """Per row: the op's recorded inputs are all 0-dimensional (see ``SCALAR_SHAPES``). Rows
    without recorded shapes (record_shapes off, cProfile, kernels) are not. Matched once per
    distinct text."""
    if "input_shapes" not in events or not len(events):
        return np.zeros(len(events), dtype=bool)
    shapes = events["input_shapes"].astype(str)
    concrete = events["concrete_inputs"].astype(str) if "concrete_inputs" in events else pd.Series("", index=events.index)
    shape_ok = _per_distinct(shapes, lambda s: bool(s) and bool(SCALAR_SHAPES.fullmatch(s)))
    no_sizes = _per_distinct(concrete, _no_sizes)
    return shape_ok & no_sizes


def _no_sizes(text: str) -> bool:
    """No non-empty list among an op's concrete arguments (JSON, profiler/events.concrete_inputs)."""
    if not text:
        return True
    try:
        values = json.loads(text)
    except ValueError:
        return False
    return not any(isinstance(v, list) and v for v in (values if isinstance(values, list) else [values]))


def _per_distinct(values: pd.Series, test) -> np.ndarray:
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return np.array([test(str(u)) for u in uniques], dtype=bool)[codes] if len(uniques) else np.zeros(0, dtype=bool)


class _MatchTimeout(BaseException):
    """Raised by the CPU-time alarm inside a regular-expression match (re checks for signals)."""


@contextlib.contextmanager
def _cpu_time_bound(seconds: float):
    """Raises _MatchTimeout after ``seconds`` of process CPU time; a no-op off the main thread or
    where there is no SIGPROF (Windows)."""
    if not hasattr(signal, "SIGPROF") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise _MatchTimeout()

    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def _categorical(per_key: list[str], codes: np.ndarray) -> pd.Categorical:
    """Broadcasts one label per distinct key to every row, without building a string per row."""
    labels, label_of_key = np.unique(np.array(per_key, dtype=object), return_inverse=True)
    return pd.Categorical.from_codes(label_of_key[codes], categories=list(labels))


def _joint_codes(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Dense codes 0..k-1 of the distinct key tuples (hash factorisation per column, then combined)."""
    codes = np.zeros(len(frame), dtype=np.int64)
    for key in keys:
        col_codes, col_uniques = pd.factorize(frame[key], use_na_sentinel=False)  # Arrow-backed: C++ hashing
        codes = pd.factorize(codes * len(col_uniques) + col_codes)[0]
    return codes


def _split(value, sep: str) -> tuple[str, ...]:
    if not isinstance(value, str) or not value:
        return ()
    return tuple(value.split(sep))
