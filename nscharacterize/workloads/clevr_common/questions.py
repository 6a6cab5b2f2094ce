"""Template questions with CLEVR programs, in CLEVR's seven question families.

Each template builds the question text and its CLEVR program together; a question is kept only
when its program executes on the scene (no ill-posed ``unique``), and its answer is the program's.
"""
from __future__ import annotations

import re

import numpy as np

from ..base import WorkloadError
from .attributes import ATTRIBUTES, RELATIONS
from .programs import answer_text, execute_clevr

_PLURAL = {"cube": "cubes", "sphere": "spheres", "cylinder": "cylinders", None: "things"}
_REL_TEXT = {"left": "left of", "right": "right of", "front": "in front of", "behind": "behind"}
_REL_TEXT_LONG = {"left": "to the left of", "right": "to the right of", "front": "in front of", "behind": "behind"}
_ATTR_ORDER = ("size", "color", "material", "shape")


class _Program:
    """A CLEVR program under construction."""

    def __init__(self) -> None:
        self.nodes: list[dict] = []

    def add(self, function: str, inputs: list[int], value: str | None = None) -> int:
        self.nodes.append({"function": function, "inputs": inputs, "value_inputs": [value] if value else []})
        return len(self.nodes) - 1


def _phrase(attrs: dict, plural: bool = False) -> str:
    words = [attrs[a] for a in ("size", "color", "material") if a in attrs]
    noun = attrs.get("shape")
    words.append(_PLURAL[noun] if plural else (noun or "thing"))
    return " ".join(words)


def _filters(p: _Program, src: int, attrs: dict) -> int:
    for a in _ATTR_ORDER:
        if a in attrs:
            src = p.add(f"filter_{a}", [src], attrs[a])
    return src


class _Gen:
    def __init__(self, scene: dict, rng: np.random.Generator):
        self.scene, self.rng = scene, rng
        self.objs = scene["objects"]
        self.n = len(self.objs)

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def _match(self, cand: set, attrs: dict) -> set:
        return {i for i in cand if all(self.objs[i][a] == v for a, v in attrs.items())}

    def unique_attrs(self, target: int, cand: set) -> dict | None:
        """A random attribute subset that singles ``target`` out of ``cand`` (None if impossible)."""
        order = list(_ATTR_ORDER)
        self.rng.shuffle(order)
        for k in range(0, 5):
            for start in range(4):
                subset = [order[(start + j) % 4] for j in range(k)]
                attrs = {a: self.objs[target][a] for a in subset}
                if self._match(cand, attrs) == {target}:
                    return attrs
            if k == 0 and len(cand) == 1:
                return {}
        return None

    def ref(self, target: int, hops: int, p: _Program) -> tuple[str, int] | None:
        """'the <desc> [that is <rel> <ref>]' singling out ``target``; returns (text, node of unique)."""
        if hops == 0:
            attrs = self.unique_attrs(target, set(range(self.n)))
            if attrs is None or not attrs:
                return None
            node = _filters(p, p.add("scene", []), attrs)
            return f"the {_phrase(attrs)}", p.add("unique", [node])
        rels = [(r, a) for r in RELATIONS for a in range(self.n) if target in self.scene["relationships"][r][a]]
        self.rng.shuffle(rels)
        for r, anchor in rels[:6]:
            cand = set(self.scene["relationships"][r][anchor])
            attrs = self.unique_attrs(target, cand)
            if attrs is None:
                continue
            mark = len(p.nodes)
            sub = self.ref(anchor, hops - 1, p)
            if sub is None:
                del p.nodes[mark:]
                continue
            text, anode = sub
            node = _filters(p, p.add("relate", [anode], r), attrs)
            that = self.pick(["that is ", "", "that is "])
            return f"the {_phrase(attrs)} {that}{_REL_TEXT[r]} {text}", p.add("unique", [node])
        return None

    def set_expr(self, p: _Program, hops: int) -> tuple[str, int]:
        """A plural noun phrase and its set-valued node: '<desc>s [that are <rel> <ref>]'."""
        attrs = {a: self.pick(ATTRIBUTES[a]) for a in _ATTR_ORDER if self.rng.random() < 0.4}
        if hops == 0:
            return _phrase(attrs, plural=True), _filters(p, p.add("scene", []), attrs)
        for _ in range(8):
            mark = len(p.nodes)
            sub = self.ref(int(self.rng.integers(self.n)), hops - 1, p)
            if sub is None:
                del p.nodes[mark:]
                continue
            r = self.pick(RELATIONS)
            node = _filters(p, p.add("relate", [sub[1]], r), attrs)
            return f"{_phrase(attrs, plural=True)} that are {_REL_TEXT_LONG[r]} {sub[0]}", node
        return _phrase(attrs, plural=True), _filters(p, p.add("scene", []), attrs)

    # -- templates: each returns (question text, CLEVR program) or None -------------------------
    def t_count(self):
        p = _Program()
        text, node = self.set_expr(p, int(self.rng.integers(1, 3)))
        p.add("count", [node])
        return self.pick([f"How many {text} are there?", f"What number of {text} are there?"]), p.nodes

    def t_exist(self):
        p = _Program()
        text, node = self.set_expr(p, int(self.rng.integers(1, 3)))
        p.add("exist", [node])
        return self.pick([f"Are there any {text}?", f"Are there any other things in the scene that are {text}?"]), p.nodes

    def t_query(self):
        p = _Program()
        r = self.ref(int(self.rng.integers(self.n)), int(self.rng.integers(1, 3)), p)
        if r is None:
            return None
        attr = self.pick(list(_ATTR_ORDER))
        p.add(f"query_{attr}", [r[1]])
        q = self.pick([f"What is the {attr} of {r[0]}?", f"There is {r[0]}; what {attr} is it?",
                       f"What {attr} is {r[0]}?"])
        return q, p.nodes

    def t_compare_integer(self):
        p = _Program()
        ta, na = self.set_expr(p, int(self.rng.integers(0, 2)))
        ca = p.add("count", [na])
        tb, nb = self.set_expr(p, int(self.rng.integers(0, 2)))
        cb = p.add("count", [nb])
        fn = self.pick(["less_than", "greater_than", "equal_integer"])
        p.add(fn, [ca, cb])
        q = {"less_than": f"Are there fewer {ta} than {tb}?",
             "greater_than": f"Are there more {ta} than {tb}?",
             "equal_integer": f"Is the number of {ta} the same as the number of {tb}?"}[fn]
        return q, p.nodes

    def t_same_relate(self):
        p = _Program()
        r = self.ref(int(self.rng.integers(self.n)), int(self.rng.integers(0, 2)), p)
        if r is None:
            return None
        attr = self.pick(list(_ATTR_ORDER))
        node = p.add(f"same_{attr}", [r[1]])
        if self.rng.random() < 0.5:
            p.add("count", [node])
            return f"How many other things are there of the same {attr} as {r[0]}?", p.nodes
        p.add("exist", [node])
        return f"Is there anything else that has the same {attr} as {r[0]}?", p.nodes

    def t_compare_attribute(self):
        p = _Program()
        a, b = (int(k) for k in self.rng.choice(self.n, size=2, replace=False))   # two distinct objects
        ra = self.ref(a, int(self.rng.integers(0, 2)), p)
        if ra is None:
            return None
        attr = self.pick(list(_ATTR_ORDER))
        qa = p.add(f"query_{attr}", [ra[1]])
        rb = self.ref(b, int(self.rng.integers(0, 2)), p)
        if rb is None:
            return None
        qb = p.add(f"query_{attr}", [rb[1]])
        p.add(f"equal_{attr}", [qa, qb])
        return self.pick([f"Does {ra[0]} have the same {attr} as {rb[0]}?",
                          f"Is the {attr} of {ra[0]} the same as {rb[0]}?"]), p.nodes

    def t_and_or(self):
        p = _Program()
        if self.rng.random() < 0.5:
            ta, na = self.set_expr(p, int(self.rng.integers(0, 2)))
            tb, nb = self.set_expr(p, 0)
            u = p.add("union", [na, nb])
            p.add("count", [u])
            return f"How many things are {ta} or {tb}?", p.nodes
        ra = self.ref(int(self.rng.integers(self.n)), 0, p)
        rb = self.ref(int(self.rng.integers(self.n)), 0, p)
        if ra is None or rb is None:
            return None
        r1, r2 = self.pick(RELATIONS), self.pick(RELATIONS)
        x = p.add("relate", [ra[1]], r1)
        y = p.add("relate", [rb[1]], r2)
        attrs = {a: self.pick(ATTRIBUTES[a]) for a in _ATTR_ORDER if self.rng.random() < 0.3}
        node = _filters(p, p.add("intersect", [x, y]), attrs)
        fin = self.pick(["count", "exist"])
        p.add(fin, [node])
        noun = _phrase(attrs, plural=True)
        if fin == "count":
            return f"How many {noun} are both {_REL_TEXT[r1]} {ra[0]} and {_REL_TEXT[r2]} {rb[0]}?", p.nodes
        return f"Are there any {noun} that are {_REL_TEXT[r1]} {ra[0]} and {_REL_TEXT[r2]} {rb[0]}?", p.nodes


_TEMPLATES = [("count", 0.16), ("exist", 0.12), ("query", 0.22), ("compare_integer", 0.12),
              ("same_relate", 0.12), ("compare_attribute", 0.14), ("and_or", 0.12)]


def make_questions(scene: dict, seed: int, count: int) -> list[dict]:
    rng = np.random.default_rng([seed, scene["image_index"], 7])
    gen = _Gen(scene, rng)
    names, weights = zip(*_TEMPLATES)
    out: list[dict] = []
    tries = 0
    while len(out) < count:
        tries += 1
        if tries > 500 * count:
            raise WorkloadError(f"could not generate {count} questions for scene {scene['image_index']}")
        family = int(rng.choice(len(names), p=np.array(weights) / sum(weights)))
        made = getattr(gen, "t_" + names[family])()
        if made is None:
            continue
        text, program = made
        try:
            answer = execute_clevr(program, scene)
        except ValueError:
            continue
        text = re.sub(r"\s+", " ", text).strip()
        text = text[0].upper() + text[1:]
        out.append({"image_index": scene["image_index"], "image_filename": scene["image_filename"],
                    "split": scene["split"], "question": text, "program": program,
                    "answer": answer_text(answer), "question_family_index": family,
                    "question_index": -1})
    return out

