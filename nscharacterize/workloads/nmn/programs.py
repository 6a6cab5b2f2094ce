"""Module programs of a neural module network, and the three schedules that execute a batch of them.

A program is a CLEVR functional program: a list of nodes ``{"function", "inputs", "value_inputs"}``
in topological order (every input index is smaller than the node's own). IEP (Johnson et al. 2017)
builds one neural module per program token -- the function with its value, ``filter_color[red]``,
``relate[left]``, ``count`` -- and assembles a different module graph per question.

How the modules of a batch of ``b`` programs are called is the subject of Suarez and Zhu, "Fast and
CLEVR visual reasoning programs via improved topologically batched graph execution". With ``s`` the
longest program, ``p`` the number of module types and ``d`` the deepest program tree:

- ``per_example``: one question at a time, modules in program order: one call per node, O(b*s).
- ``batched`` (their topological sort): step ``t`` runs node ``t`` of every program, one call per
  module type among them: at most min(b, p) calls per step, O(p*s).
- ``batched_depth`` (their improved topological sort): nodes are grouped by height in their tree
  (leaves 0, otherwise one more than the highest input), one call per module type per height:
  O(p*d). Programs whose positions disagree but whose heights agree share calls.

Everything here is pure Python over program structure: the schedule is computed before any tensor
work, and its length is the number of module calls, which ``Workload.info`` reports per batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

MODES = ("per_example", "batched", "batched_depth")
# Functions whose IEP module takes two inputs (a ConcatBlock); every other function (scene too)
# is a unary ResidualBlock.
BINARY_FUNCTIONS = frozenset({"intersect", "union", "equal_integer", "less_than", "greater_than",
                              "equal_color", "equal_material", "equal_shape", "equal_size"})

Program = Sequence[dict]
NodeRef = tuple[int, int]      # (question index in the batch, node index in its program)


@dataclass(frozen=True)
class Call:
    """One module call: ``token``'s module applied to the listed nodes at once (a batch of them)."""

    token: str
    nodes: tuple[NodeRef, ...]


def function(node: dict) -> str:
    return node.get("function", node.get("type"))


def token(node: dict) -> str:
    """IEP's module name for a node: the function, with its value input in brackets if it has one."""
    values = node.get("value_inputs") or node.get("side_inputs") or []
    return f"{function(node)}[{values[0]}]" if values else function(node)


def arity(tok: str) -> int:
    """Inputs of a token's module: 2 for the binary functions, else 1 (``scene`` reads the image)."""
    return 2 if tok.split("[", 1)[0] in BINARY_FUNCTIONS else 1


def check(program: Program) -> None:
    """Raises ValueError unless the program is non-empty, topologically ordered and arities fit."""
    if not program:
        raise ValueError("empty program")
    for j, node in enumerate(program):
        ins = list(node.get("inputs", []))
        if any(not 0 <= i < j for i in ins):
            raise ValueError(f"node {j} ({token(node)}) has inputs {ins}: not topologically ordered")
        want = 0 if function(node) == "scene" else arity(token(node))
        if len(ins) != want:
            raise ValueError(f"node {j} ({token(node)}) has {len(ins)} inputs, its module takes {want}")


def heights(program: Program) -> list[int]:
    """Height of every node: 0 for leaves (``scene``), else 1 + the highest of its inputs."""
    out: list[int] = []
    for node in program:
        ins = node.get("inputs", [])
        out.append(1 + max(out[i] for i in ins) if ins else 0)
    return out


def depth(program: Program) -> int:
    """Levels of the program tree: the number of nodes on its longest leaf-to-root path."""
    return 1 + max(heights(program))


def schedule(programs: Sequence[Program], mode: str) -> list[Call]:
    """The module calls that execute ``programs`` in ``mode``, in an order that respects inputs."""
    if mode == "per_example":
        return [Call(token(node), ((q, j),)) for q, prog in enumerate(programs) for j, node in enumerate(prog)]
    if mode == "batched":
        steps = max(len(p) for p in programs)
        levels = [[(q, t) for q, prog in enumerate(programs) if t < len(prog)] for t in range(steps)]
    elif mode == "batched_depth":
        hs = [heights(p) for p in programs]
        levels = [[] for _ in range(max(max(h) for h in hs) + 1)]
        for q, h in enumerate(hs):
            for j, level in enumerate(h):
                levels[level].append((q, j))
    else:
        raise ValueError(f"unknown execution mode {mode!r}; one of {', '.join(MODES)}")
    calls: list[Call] = []
    for level in levels:
        calls.extend(_group(programs, level))
    return calls


def _group(programs: Sequence[Program], nodes: Iterable[NodeRef]) -> list[Call]:
    """One call per module type among ``nodes``, in order of first appearance."""
    by_token: dict[str, list[NodeRef]] = {}
    for q, j in nodes:
        by_token.setdefault(token(programs[q][j]), []).append((q, j))
    return [Call(tok, tuple(refs)) for tok, refs in by_token.items()]


def call_counts(programs: Sequence[Program]) -> dict:
    """Module calls of each mode for one batch, beside the paper's bounds b*s, p*s and p*d.

    ``p`` here is the number of module types the batch uses (the bound with the vocabulary size,
    as the paper states it, is looser still).
    """
    b, s = len(programs), max(len(p) for p in programs)
    p = len({token(n) for prog in programs for n in prog})
    d = max(depth(prog) for prog in programs)
    return {"calls": {m: len(schedule(programs, m)) for m in MODES},
            "b": b, "s": s, "p": p, "d": d, "bound_bs": b * s, "bound_ps": p * s, "bound_pd": p * d,
            "nodes": sum(len(prog) for prog in programs)}
