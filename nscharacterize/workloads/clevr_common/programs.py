"""Ground-truth execution of CLEVR programs on scene annotations.

Programs are lists of CLEVR nodes (``function``/``inputs``/``value_inputs``; the older
``type``/``side_inputs`` spelling is read too). Answers are what the question generator stores.
"""
from __future__ import annotations

from typing import Any


def execute_clevr(program: list[dict], scene: dict) -> Any:
    """Runs a CLEVR program on a scene's annotations; raises ValueError when it is ill-posed."""
    objs, rel = scene["objects"], scene["relationships"]
    vals: list[Any] = []
    for node in program:
        fn = node.get("function", node.get("type"))
        args = [vals[i] for i in node["inputs"]]
        v = (node.get("value_inputs") or node.get("side_inputs") or [None])[0]
        if fn == "scene":
            out: Any = set(range(len(objs)))
        elif fn.startswith("filter_"):
            a = fn[len("filter_"):]
            out = {i for i in args[0] if objs[i][a] == v}
        elif fn == "unique":
            if len(args[0]) != 1:
                raise ValueError(f"unique over {len(args[0])} objects")
            out = next(iter(args[0]))
        elif fn == "relate":
            out = set(rel[v][args[0]])
        elif fn.startswith("same_"):
            a = fn[len("same_"):]
            out = {i for i in range(len(objs)) if i != args[0] and objs[i][a] == objs[args[0]][a]}
        elif fn == "intersect":
            out = args[0] & args[1]
        elif fn == "union":
            out = args[0] | args[1]
        elif fn == "count":
            out = len(args[0])
        elif fn == "exist":
            out = len(args[0]) > 0
        elif fn.startswith("query_"):
            out = objs[args[0]][fn[len("query_"):]]
        elif fn.startswith("equal_") and fn != "equal_integer":
            out = args[0] == args[1]
        elif fn == "equal_integer":
            out = args[0] == args[1]
        elif fn == "less_than":
            out = args[0] < args[1]
        elif fn == "greater_than":
            out = args[0] > args[1]
        else:
            raise ValueError(f"unsupported CLEVR function {fn!r}")
        vals.append(out)
    return vals[-1]


def answer_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)

