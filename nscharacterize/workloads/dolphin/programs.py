"""The two Dolphin-suite programs as plain Python: which symbols each input position can take,
and how a partial result and the next symbol combine into a new result symbol.

Both strategies (``per_sample`` and ``vectorized``) call the very same functions, so they compute
the same program; they differ only in how the probabilities of the symbols are carried.

MNIST SumN folds ``a + d`` over the N digits. HWF folds a formula left to right the way Dolphin's
HWF program does: a state is the tuple of tokens read so far, and a ``*`` or ``/`` is evaluated
as soon as its right operand arrives, so only ``+`` and ``-`` are left for the final evaluation
(operator precedence without a parser). Division by zero gives NaN, as the released program's
``eval`` fallback does; all NaNs are one symbol (:data:`NAN`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

NAN = float("nan")          # the one NaN symbol: every NaN result is mapped to this object
DIGITS = tuple(range(10))
OPERATORS = ("+", "-", "*", "/")
HWF_CLASSES = 14             # 10 digits + 4 operators: the symbol CNN's output width


@dataclass(frozen=True)
class Program:
    """A left fold over input positions.

    ``symbols[i]`` are the symbols position i can take; they read the CNN output columns
    ``columns[i]`` (a ``(start, stop)`` range). The first position's symbols are the initial
    states. ``step(state, symbol)`` gives the next state; ``finish(state)`` (optional) maps the
    final states to the program's result symbols. ``symbol_k`` is Dolphin's ``Distribution.k``:
    when set, both operands of every step keep only each sample's ``symbol_k`` most probable
    symbols (None: no pruning, as in Dolphin's SumN).
    """

    name: str
    symbols: tuple[tuple, ...]
    columns: tuple[tuple[int, int], ...]
    step: Callable[[Any, Any], Any]
    finish: Callable[[Any], Any] | None = None
    symbol_k: int | None = None

    @property
    def positions(self) -> int:
        return len(self.symbols)

    def fold(self, inputs: list, keep_top: Callable[[Any, int | None], Any],
             combine: Callable[[Any, Any, Callable], Any], relabel: Callable[[Any, Callable], Any]) -> Any:
        """Runs the program over ``inputs`` (one distribution per position) in whatever representation
        the executor uses: ``keep_top(dist, k)`` prunes, ``combine(a, b, step)`` applies one step and
        ``relabel(dist, finish)`` maps final states to results. The per-sample and the vectorized
        executors share this order of operations, so they compute the same program."""
        res = inputs[0]
        for b in inputs[1:]:
            res = combine(keep_top(res, self.symbol_k), keep_top(b, self.symbol_k), self.step)
        if self.finish is not None:
            res = relabel(res, self.finish)
        return res


def add_digit(total: int, digit: int) -> int:
    """SumN's step: the running sum plus the next digit."""
    return total + digit


def sum_program(n: int) -> Program:
    return Program(name=f"sum{n}", symbols=(DIGITS,) * n, columns=((0, 10),) * n, step=add_digit)


def apply_operator(a: float, op: str, b: float) -> float:
    """One arithmetic operation on result symbols; NaN in, or a division by zero, gives NAN."""
    if a != a or b != b:
        return NAN
    if op == "+":
        out = a + b
    elif op == "-":
        out = a - b
    elif op == "*":
        out = a * b
    elif b == 0:
        return NAN
    else:
        out = a / b
    return NAN if out != out else out


def extend_formula(state: tuple, token) -> tuple:
    """HWF's step: append a token; a ``*`` or ``/`` whose right operand just arrived is evaluated
    at once (the state then ends in its result), so states stay short."""
    formula = state + (token,)
    if len(formula) >= 3 and len(formula) % 2 == 1 and formula[-2] in ("*", "/"):
        formula = formula[:-3] + (apply_operator(formula[-3], formula[-2], formula[-1]),)
    return formula


def formula_value(state: tuple) -> float:
    """HWF's final map: the remaining ``+`` and ``-`` evaluated left to right."""
    value = state[0]
    for i in range(1, len(state) - 1, 2):
        value = apply_operator(value, state[i], state[i + 1])
    return value


def hwf_program(length: int, symbol_k: int | None) -> Program:
    """Digits at even positions (CNN columns 0-9), operators at odd ones (columns 10-13)."""
    symbols, columns = [], []
    for i in range(length):
        if i % 2 == 0:
            symbols.append(tuple((d,) for d in DIGITS) if i == 0 else DIGITS)
            columns.append((0, 10))
        else:
            symbols.append(OPERATORS)
            columns.append((10, 14))
    return Program(name=f"hwf{length}", symbols=tuple(symbols), columns=tuple(columns), step=extend_formula,
                   finish=formula_value, symbol_k=symbol_k)


def evaluate_tokens(tokens: list) -> float:
    """Ground truth of a synthetic formula: the program's own semantics on known symbols."""
    state = (tokens[0],)
    for t in tokens[1:]:
        state = extend_formula(state, t)
    return formula_value(state)


def ordered_unique(results: list) -> tuple[list, list[int]]:
    """Distinct result symbols and, per input, the index of its symbol.

    Numbers come out sorted (NaN last), as ``np.unique`` orders Dolphin's numeric symbols; other
    symbols (formula states) keep their first-seen order. Returns ``(symbols, index)``.
    """
    first: dict = {}
    for r in results:
        if r not in first:
            first[r] = len(first)
    symbols = list(first)
    if all(isinstance(s, (int, float)) for s in symbols):
        symbols.sort(key=lambda s: (s != s, 0.0 if s != s else s))
        where = {s: i for i, s in enumerate(symbols)}
        return symbols, [where[r] for r in results]
    return symbols, [first[r] for r in results]
