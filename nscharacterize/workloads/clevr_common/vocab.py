"""Fixed CLEVR question and program vocabularies, and the tokenizers that use them.

The vocabularies do not depend on the data, so token ids are the same for every dataset and seed;
unknown words map to ``<unk>``. A question parser's embedding sizes come from these lists.
"""
from __future__ import annotations

import re

from .attributes import ATTRIBUTES, CONCEPTS, RELATIONS

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
_WORDS = sorted(set("""
how many are there any is a an the of that what number things thing objects object other
same as does have has it its both and or more fewer than greater less equal to left right front
behind in color material shape size made cubes spheres cylinders blocks balls block ball matte shiny metallic
also another on side either visible anything else scene ? ; , there's
""".split()) | set(CONCEPTS))
QUESTION_VOCAB = SPECIALS + _WORDS
_Q_INDEX = {w: i for i, w in enumerate(QUESTION_VOCAB)}

PROGRAM_VOCAB = SPECIALS + sorted(
    ["scene", "unique", "intersect", "union", "count", "exist", "equal_integer", "less_than", "greater_than"]
    + [f"filter_{a}[{v}]" for a, vs in ATTRIBUTES.items() for v in vs]
    + [f"relate[{r}]" for r in RELATIONS]
    + [f"{f}_{a}" for f in ("query", "same", "equal") for a in ATTRIBUTES])
_P_INDEX = {t: i for i, t in enumerate(PROGRAM_VOCAB)}


def tokenize(question: str) -> list[int]:
    words = re.findall(r"[a-z']+|[?;,]", question.lower())
    return [_Q_INDEX.get(w, _Q_INDEX["<unk>"]) for w in words]


def program_tokens(program: list[dict]) -> list[int]:
    """One token per CLEVR program node (as NS-VQA's seq2seq parser emits them)."""
    out = []
    for node in program:
        fn = node.get("function", node.get("type"))
        vals = node.get("value_inputs", node.get("side_inputs", []))
        tok = f"{fn}[{vals[0]}]" if vals else fn
        out.append(_P_INDEX.get(tok, _P_INDEX["<unk>"]))
    return out

