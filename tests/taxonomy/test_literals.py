"""The literal prefilter of long names (taxonomy/literals.py): what it reads off patterns, and that
it never turns away a name its pattern matches, on the built-in rules and real kernel names."""
from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from nscharacterize.profiler.chrome_trace import load
from nscharacterize.taxonomy.classifier import Taxonomy
from nscharacterize.taxonomy.literals import PREFILTER_FROM, cannot_match, folded_name, required_literals

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.mark.parametrize("pattern, needs", [
    (r"(?i).*(gemm|matmul).*", ("gemm", "matmul")),
    (r"(?:void )?(?:nccl|rccl)\w*.*", ("nccl", "rccl")),   # an optional part is not needed
    (r"Cijk_\w+", ("cijk_",)),                              # case-sensitive, compared lower-cased
    (r"(?:^|::|\s)reduce_(?!scatter)\w+", ("reduce_",)),     # an anchor, a look-ahead: no text
    (r"a+bcd", ("bcd",)),                                   # the longest of the texts needed
    (r"(?:x|)yz", ("yz",)),                                 # an empty alternative needs nothing
    (r"(?:ab){2,}", ("ab",)),                               # a repeat needs its body at least once
    (r"(?:ab)*c", ("c",)),
    (r".*", None), (r"\w+_kernel", ("_kernel",)), (r"[ab]+", None), (r"(?:a|.)bc", ("bc",)),
])
def test_required_literals(pattern, needs):
    assert required_literals(re.compile(pattern)) == needs


def test_cannot_match_only_applies_to_long_ascii_names():
    needs = required_literals(re.compile(r"(?i).*gemm.*"))
    long_name = "void kernel<" + "x" * PREFILTER_FROM + ">"
    assert cannot_match(needs, folded_name(long_name))
    assert not cannot_match(needs, folded_name(long_name.replace("kernel", "SGEMM")))   # case folded
    assert folded_name("short") is None and not cannot_match(needs, folded_name("short"))
    assert folded_name("é" + long_name) is None   # not ASCII: the pattern alone decides
    assert not cannot_match(None, folded_name(long_name))   # no texts known: no prefilter


def _names() -> list[str]:
    """Every kernel and op name of the real traces in tests/fixtures, and long variants of them."""
    names: set[str] = set()
    for path in sorted(FIXTURES.glob("*/**/*.json*")):
        try:
            trace = load(path)
        except Exception:   # not a trace (a config, an ncu report)
            continue
        names.update(trace.device["name"].astype(str))
        names.update(trace.host["name"].astype(str))
    padded = {f"void wrap<{n}, {'T' * PREFILTER_FROM}>(int)" for n in names}
    return sorted(names | padded)


def test_prefilter_never_rejects_a_match_of_a_builtin_rule():
    """For every built-in rule and every name (real kernel and op names, the same padded past
    PREFILTER_FROM, and for each rule its own texts in random case in a long name): the
    prefilter turns away only names the pattern does not match, and first_match is unchanged."""
    tx = Taxonomy()
    rng = random.Random(0)
    names = _names()
    assert len(names) > 500 and any(len(n) >= 500 for n in names)
    for rule in tx.rules["kernels"] + tx.rules["ops"] + tx.rules["python"]:
        needs = required_literals(rule.match)
        own = [f"void {''.join(c.upper() if rng.random() < 0.5 else c for c in text)}_{'x' * PREFILTER_FROM}"
               for text in needs or ()]
        for name in names + own:
            if rule.match.fullmatch(name):
                assert not cannot_match(needs, folded_name(name)), (rule.id, name[:120])
    for name in names:   # the classifier's answer is the first rule whose pattern matches, as without it
        for ns in ("kernels", "ops"):
            expected = next((r for r in tx.rules[ns] if r.matches(name)), None)
            assert tx.first_match(ns, name) is expected, (ns, name[:120])


def test_prefilter_is_exact_on_random_patterns():
    """Random patterns from literals, classes, groups, alternatives and repeats, against random
    strings: whenever the pattern matches, the prefilter lets the string through."""
    rng = random.Random(1)
    atoms = ["ab", "c", "xyz", "gemm", "::", "_", r"\w", ".", "[a-c]", "K", r"\b"]

    def pattern(depth: int = 0) -> str:
        parts = []
        for _ in range(rng.randint(1, 4)):
            r = rng.random()
            if r < 0.2 and depth < 2:
                parts.append("(?:" + "|".join(pattern(depth + 1) for _ in range(rng.randint(1, 3))) + ")")
            elif r < 0.3 and depth < 2:
                parts.append("(?:" + pattern(depth + 1) + ")" + rng.choice(["*", "+", "?", "{2}", "{0,2}"]))
            else:
                parts.append(rng.choice(atoms))
        return "".join(parts)

    pieces = ["ab", "c", "xyz", "gemm", "GEMM", "::", "_", "K", "k", "a", "b", " ", "0"]
    checked = 0
    for _ in range(400):
        text = pattern()
        compiled = re.compile(rng.choice(["", "(?i)"]) + ".*" + text + ".*")
        needs = required_literals(compiled)
        for _ in range(40):
            s = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
            name = s + "q" * PREFILTER_FROM + (s if rng.random() < 0.5 else "")
            if compiled.fullmatch(name):
                checked += 1
                assert not cannot_match(needs, folded_name(name)), (compiled.pattern, name)
    assert checked > 1000
