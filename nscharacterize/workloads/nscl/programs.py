"""CLEVR programs in NSCL's op set: the translation, and a symbolic executor for ground truth.

:func:`to_nscl` translates CLEVR programs into NSCL's ops (scene, filter, relate,
relate_attribute_equal, intersect, union, query, query_attribute_equal, exist, count,
count_less/equal/greater), merging filter chains into concept groups and dropping ``unique``
(NSCL applies it to object-typed inputs). :func:`execute_nscl_symbolic` runs the result on scene
annotations, so the translation can be checked against CLEVR's own answers.
"""
from __future__ import annotations

from typing import Any

from ..clevr_common.attributes import ATTRIBUTES, CONCEPT_ATTRIBUTE

NSCL_OPS = ("scene", "filter", "relate", "relate_attribute_equal", "intersect", "union", "query",
            "query_attribute_equal", "exist", "count", "count_less", "count_equal", "count_greater")


def to_nscl(program: list[dict]) -> list[dict]:
    """Translates a CLEVR program into NSCL blocks ``{"op", "inputs", [concept|relational_concept|attribute]}``."""
    fn = [n.get("function", n.get("type")) for n in program]
    val = [(n.get("value_inputs") or n.get("side_inputs") or [None])[0] for n in program]
    blocks: list[dict] = []
    memo: dict[int, int] = {}

    def emit(block: dict) -> int:
        blocks.append(block)
        return len(blocks) - 1

    def tr(i: int) -> int:
        if i in memo:
            return memo[i]
        f, ins = fn[i], program[i]["inputs"]
        if f == "scene":
            out = emit({"op": "scene", "inputs": []})
        elif f.startswith("filter_"):
            concepts, j = [], i
            while fn[j].startswith("filter_"):     # merge a chain of filters into one concept group
                concepts.insert(0, val[j])
                j = program[j]["inputs"][0]
            out = emit({"op": "filter", "inputs": [tr(j)], "concept": concepts})
        elif f == "unique":
            out = tr(ins[0])
        elif f == "relate":
            out = emit({"op": "relate", "inputs": [tr(ins[0])], "relational_concept": [val[i]]})
        elif f.startswith("same_"):
            out = emit({"op": "relate_attribute_equal", "inputs": [tr(ins[0])], "attribute": f[5:]})
        elif f in ("intersect", "union"):
            out = emit({"op": f, "inputs": [tr(ins[0]), tr(ins[1])]})
        elif f in ("count", "exist"):
            out = emit({"op": f, "inputs": [tr(ins[0])]})
        elif f.startswith("query_"):
            out = emit({"op": "query", "inputs": [tr(ins[0])], "attribute": f[6:]})
        elif f.startswith("equal_") and f[6:] in ATTRIBUTES:
            a, b = (program[k]["inputs"][0] for k in ins)          # equal_X(query_X(a), query_X(b))
            out = emit({"op": "query_attribute_equal", "inputs": [tr(a), tr(b)], "attribute": f[6:]})
        elif f in ("equal_integer", "less_than", "greater_than"):
            a, b = (program[k]["inputs"][0] for k in ins)          # cmp(count(a), count(b))
            op = {"equal_integer": "count_equal", "less_than": "count_less", "greater_than": "count_greater"}[f]
            out = emit({"op": op, "inputs": [tr(a), tr(b)]})
        else:
            raise ValueError(f"CLEVR function {f!r} has no NSCL counterpart")
        memo[i] = out
        return out

    tr(len(program) - 1)
    return blocks


def execute_nscl_symbolic(blocks: list[dict], scene: dict) -> Any:
    """Runs an NSCL program on the scene annotations (the executor's ground truth)."""
    objs, rel = scene["objects"], scene["relationships"]
    vals: list[Any] = []

    def one(s: set) -> int:
        if len(s) != 1:
            raise ValueError(f"object-typed input holds {len(s)} objects")
        return next(iter(s))

    for b in blocks:
        op, a = b["op"], [vals[i] for i in b["inputs"]]
        if op == "scene":
            out: Any = set(range(len(objs)))
        elif op == "filter":
            out = {i for i in a[0] if all(objs[i][CONCEPT_ATTRIBUTE[c]] == c for c in b["concept"])}
        elif op == "relate":
            out = set(rel[b["relational_concept"][0]][one(a[0])])
        elif op == "relate_attribute_equal":
            k, at = one(a[0]), b["attribute"]
            out = {i for i in range(len(objs)) if i != k and objs[i][at] == objs[k][at]}
        elif op == "intersect":
            out = a[0] & a[1]
        elif op == "union":
            out = a[0] | a[1]
        elif op == "query":
            out = objs[one(a[0])][b["attribute"]]
        elif op == "query_attribute_equal":
            out = objs[one(a[0])][b["attribute"]] == objs[one(a[1])][b["attribute"]]
        elif op == "exist":
            out = len(a[0]) > 0
        elif op == "count":
            out = len(a[0])
        elif op == "count_less":
            out = len(a[0]) < len(a[1])
        elif op == "count_equal":
            out = len(a[0]) == len(a[1])
        elif op == "count_greater":
            out = len(a[0]) > len(a[1])
        else:
            raise ValueError(f"unknown NSCL op {op!r}")
        vals.append(out)
    return vals[-1]

