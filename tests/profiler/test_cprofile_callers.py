"""cProfile rows are per (function, direct caller), so the compensation can charge each call's
cost to the caller whose tottime holds it; the rows still add up to each function's tottime."""
from __future__ import annotations

from nscharacterize.profiler.cprofile_backend import capture


def leaf_fn(i):
    return i + 1


def caller_a(n):
    return sum(leaf_fn(i) for i in range(n))


def caller_b(n):
    out = 0
    for i in range(n):
        out += leaf_fn(i)
    return out


def component(_):
    return caller_a(30) + caller_b(50) + leaf_fn(0)


def test_one_row_per_function_and_caller_with_its_calls():
    cap = capture(component, None, "cpu")
    rows = [r for r in cap.rows if r["name"].endswith(":leaf_fn")]
    by_caller = {r["ancestors"].rsplit(":", 1)[-1]: r["calls"] for r in rows}
    assert by_caller == {"<genexpr>": 30, "caller_b": 50, "component": 1}
    assert {r["ancestors"] for r in cap.rows if r["name"].endswith(":component")} == {""}   # called from outside


def test_the_rows_of_a_function_hold_all_its_calls_and_time():
    cap = capture(component, None, "cpu")
    for fn, calls in (("leaf_fn", 81), ("caller_b", 1), ("caller_a", 1)):
        rows = [r for r in cap.rows if r["name"].endswith(f":{fn}")]
        assert sum(r["calls"] for r in rows) == calls
        assert all(r["self_cpu_us"] >= 0 for r in rows) and sum(r["self_cpu_us"] for r in rows) > 0
