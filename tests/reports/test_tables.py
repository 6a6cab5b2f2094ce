"""The pivot every report table is built from (against pandas' own pivot_table), and the page's rounding."""
from __future__ import annotations

import numpy as np
import pandas as pd

from nscharacterize.reports.tables import first_pivot, wide

KEYS = ["workload", "component", "kind"]


def _pandas_first(part: pd.DataFrame, categories: list, value: str) -> pd.DataFrame:
    order = list(dict.fromkeys(zip(*(part[k] for k in KEYS))))
    table = part.pivot_table(index=KEYS, columns="category", values=value, aggfunc="first", sort=False)
    return table.reindex(index=pd.MultiIndex.from_tuples(order, names=KEYS), columns=categories).fillna(0.0)


def test_first_pivot_is_pandas_pivot_table_first():
    """Rows in first-seen order, categories in the order asked (one never seen: 0; one not asked:
    left out), the first known value where a row and category repeat, 0 where the only value is
    missing."""
    part = pd.DataFrame({
        "workload": ["b", "b", "a", "a", "b", "a", "a"],
        "component": ["x", "x", "y", "y", "x", "y", "y"],
        "kind": ["neural"] * 7,
        "category": ["gemm", "conv", "gemm", "other", "gemm", "conv", "unasked"],
        "time_s": [1.0, 2.0, 3.0, np.nan, 9.0, 4.0, 5.0]})
    categories = ["conv", "gemm", "other", "never_seen"]
    got = first_pivot(part, KEYS, categories, "time_s")
    pd.testing.assert_frame_equal(got, _pandas_first(part, categories, "time_s"), check_names=False)
    assert got.loc[("b", "x", "neural"), "gemm"] == 1.0   # the first of 1.0 and 9.0
    assert got.loc[("a", "y", "neural")].tolist() == [4.0, 3.0, 0.0, 0.0]
    assert list(got.index) == [("b", "x", "neural"), ("a", "y", "neural")]
    # the index is from_tuples' own, sorted levels and codes included (the rows keep first-seen order)
    expected = pd.MultiIndex.from_tuples([("b", "x", "neural"), ("a", "y", "neural")], names=KEYS)
    for mine, theirs in zip(got.index.levels, expected.levels):
        pd.testing.assert_index_equal(mine, theirs)
    assert [c.tolist() for c in got.index.codes] == [c.tolist() for c in expected.codes]


def test_first_pivot_keys_that_are_not_all_text():
    """A missing key or a number among the keys: the same table as pandas' (from_tuples' index)."""
    part = pd.DataFrame({"workload": ["w", "w", np.nan], "component": ["c", "d", "c"], "kind": [1, 1, 1],
                         "category": ["gemm", "gemm", "conv"], "time_s": [1.0, 2.0, 3.0]})
    got = first_pivot(part, KEYS, ["conv", "gemm"], "time_s")
    pd.testing.assert_index_equal(got.index, pd.MultiIndex.from_tuples(
        [("w", "c", 1), ("w", "d", 1), (np.nan, "c", 1)], names=KEYS))
    assert got.to_numpy().tolist() == [[0.0, 1.0], [0.0, 2.0], [3.0, 0.0]]


def test_wide_takes_one_axis():
    breakdown = pd.DataFrame({"workload": ["w"] * 3, "component": ["c"] * 3, "kind": ["neural"] * 3,
                              "axis": ["category", "category", "total"], "category": ["gemm", "conv", "total"],
                              "time_s": [1.0, 2.0, 3.0]})
    assert wide(breakdown, "category", "time_s", ["gemm", "conv"]).to_numpy().tolist() == [[1.0, 2.0]]
    assert wide(breakdown, "total", "time_s", ["total"]).to_numpy().tolist() == [[3.0]]
    assert wide(breakdown, "python", "time_s", ["other"]).empty


def test_page_numbers_keep_four_significant_digits_correctly_rounded():
    """report.html's float cells: four significant digits, whole parts kept, rounded as the
    decimal value is (121.35 is stored as 121.3499..., so 121.3), NaN and inf as they are."""
    from nscharacterize.reports.html import readable_array

    got = readable_array(np.array([0.00014443283538894, 123456.7, 121.35, 74.745, 0.0, -2.5e-7, np.nan, np.inf]))
    assert got[:6].tolist() == [0.0001444, 123457.0, 121.3, 74.75, 0.0,
                                -2.5e-7]
    assert np.isnan(got[6]) and np.isinf(got[7])
