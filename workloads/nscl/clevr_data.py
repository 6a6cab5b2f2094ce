"""Synthetic CLEVR: scenes, 480x320 renderings and template questions with functional programs.

Everything is deterministic from the seed (scene ``i`` comes from its own generator seeded by
``(seed, i)``, so asking for more images later does not change the first ones). Files are written in
the CLEVR v1.0 layout so the same loader reads real CLEVR:

    <data_dir>/scenes/CLEVR_<split>_scenes.json        {"info": ..., "scenes": [...]}
    <data_dir>/questions/CLEVR_<split>_questions.json  {"info": ..., "questions": [...]}
    <data_dir>/images/<split>/CLEVR_<split>_000000.png

Questions carry CLEVR programs (``function``/``inputs``/``value_inputs`` nodes). :func:`to_nscl`
translates them into NSCL's op set (scene, filter, relate, relate_attribute_equal, intersect,
union, query, query_attribute_equal, exist, count, count_less/equal/greater), merging filter
chains into concept groups and dropping ``unique`` (NSCL applies it to object-typed inputs).
Scenes also get an ``bbox`` per object (x0, y0, x1, y1 pixels), standing in for the Mask R-CNN
boxes NS-VQA precomputed; real CLEVR scenes get boxes estimated from ``pixel_coords``.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..base import WorkloadError

GENERATOR = "nscharacterize-clevr-synth"
VERSION = 1
WIDTH, HEIGHT = 480, 320

ATTRIBUTES = {
    "color": ["gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow"],
    "material": ["rubber", "metal"],
    "shape": ["cube", "sphere", "cylinder"],
    "size": ["large", "small"],
}
CONCEPTS = [c for a in ("color", "material", "shape", "size") for c in ATTRIBUTES[a]]   # 15
CONCEPT_ATTRIBUTE = {c: a for a, cs in ATTRIBUTES.items() for c in cs}
RELATIONS = ["left", "right", "front", "behind"]
RGB = {"gray": (87, 87, 87), "red": (173, 35, 35), "blue": (42, 75, 215), "green": (29, 105, 20),
       "brown": (129, 74, 25), "purple": (129, 38, 192), "cyan": (41, 208, 208), "yellow": (255, 238, 51)}
WORLD_RADIUS = {"large": 0.7, "small": 0.35}

NSCL_OPS = ("scene", "filter", "relate", "relate_attribute_equal", "intersect", "union", "query",
            "query_attribute_equal", "exist", "count", "count_less", "count_equal", "count_greater")

# ----------------------------------------------------------------------------------------------
# Vocabularies (fixed, so token ids do not depend on the data; unknown words map to <unk>)
# ----------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------
# Scenes
# ----------------------------------------------------------------------------------------------
def _project(x: float, y: float) -> tuple[float, float, float]:
    """Ground point (x right, y towards the camera) -> (u, v, scale)."""
    t = (y + 3.0) / 6.0
    s = 0.6 + 0.7 * t
    return WIDTH / 2 + x * 62.0 * s, 95.0 + 190.0 * t, s


def make_scene(seed: int, index: int, min_objects: int = 3, max_objects: int = 10, split: str = "val") -> dict:
    rng = np.random.default_rng([seed, index])
    n = int(rng.integers(min_objects, max_objects + 1))
    objects: list[dict] = []
    attempts = 0
    while len(objects) < n:
        attempts += 1
        if attempts > 5000:           # crowded: restart placement with the same count
            objects, attempts = [], 0
        size = str(rng.choice(ATTRIBUTES["size"]))
        x, y = (float(v) for v in rng.uniform(-3.0, 3.0, size=2))
        r = WORLD_RADIUS[size]
        ok = all(np.hypot(x - o["3d_coords"][0], y - o["3d_coords"][1]) > r + WORLD_RADIUS[o["size"]] + 0.1
                 and abs(x - o["3d_coords"][0]) > 0.25 and abs(y - o["3d_coords"][1]) > 0.25 for o in objects)
        if not ok:
            continue
        u, v, s = _project(x, y)
        pr = (34.0 if size == "large" else 17.0) * s
        shape = str(rng.choice(ATTRIBUTES["shape"]))
        top = v - 2 * pr - (0.5 * pr if shape == "cube" else 0.0)
        bbox = [max(0.0, u - pr), max(0.0, top), min(WIDTH - 1.0, u + pr), min(HEIGHT - 1.0, v + 0.2 * pr)]
        objects.append({
            "shape": shape, "color": str(rng.choice(ATTRIBUTES["color"])),
            "material": str(rng.choice(ATTRIBUTES["material"])), "size": size,
            "3d_coords": [round(x, 4), round(y, 4), r], "rotation": round(float(rng.uniform(0, 360)), 2),
            "pixel_coords": [int(round(u)), int(round(v - pr)), round(14.0 - 6.0 * (y + 3.0) / 6.0, 3)],
            "bbox": [round(b, 2) for b in bbox],
        })
    return {"split": split, "image_index": index, "image_filename": image_filename(split, index),
            "objects": objects, "relationships": relationships(objects)}


def relationships(objects: list[dict]) -> dict:
    """CLEVR convention: relationships[rel][i] lists the objects that are ``rel`` of object i."""
    xs = [o["3d_coords"][0] for o in objects]
    ys = [o["3d_coords"][1] for o in objects]
    n = len(objects)
    return {"left": [[j for j in range(n) if j != i and xs[j] < xs[i]] for i in range(n)],
            "right": [[j for j in range(n) if j != i and xs[j] > xs[i]] for i in range(n)],
            "front": [[j for j in range(n) if j != i and ys[j] > ys[i]] for i in range(n)],
            "behind": [[j for j in range(n) if j != i and ys[j] < ys[i]] for i in range(n)]}


def image_filename(split: str, index: int) -> str:
    return f"CLEVR_{split}_{index:06d}.png"


def render(scene: dict) -> np.ndarray:
    """Draws the scene back to front as simple shaded shapes: uint8 [320, 480, 3]."""
    from PIL import Image, ImageDraw

    yy = np.linspace(0.0, 1.0, HEIGHT, dtype=np.float32)[:, None, None]
    bg = (150 + 40 * yy) * np.ones((1, WIDTH, 3), np.float32)
    img = Image.fromarray(bg.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    order = sorted(range(len(scene["objects"])), key=lambda i: scene["objects"][i]["3d_coords"][1])
    for i in order:
        o = scene["objects"][i]
        u, v, s = _project(o["3d_coords"][0], o["3d_coords"][1])
        r = (34.0 if o["size"] == "large" else 17.0) * s
        base = np.array(RGB[o["color"]], np.float32)
        shiny = o["material"] == "metal"

        def tone(k: float) -> tuple:
            return tuple(int(c) for c in np.clip(base * k, 0, 255))

        draw.ellipse([u - r * 1.1, v - 0.25 * r, u + r * 1.1, v + 0.25 * r], fill=(110, 110, 110))  # shadow
        if o["shape"] == "sphere":
            cx, cy = u, v - r
            for k in range(12, 0, -1):                      # radial shading toward the upper left
                f = k / 12
                off = (1 - f) * 0.35 * r
                draw.ellipse([cx - f * r - off, cy - f * r - off, cx + f * r - off, cy + f * r - off],
                             fill=tone(0.55 + 0.6 * (1 - f)))
        elif o["shape"] == "cube":
            d = 0.5 * r
            draw.rectangle([u - r, v - 2 * r, u + r, v], fill=tone(0.8))
            draw.polygon([(u - r, v - 2 * r), (u - r + d, v - 2 * r - d), (u + r + d, v - 2 * r - d),
                          (u + r, v - 2 * r)], fill=tone(1.15))
            draw.polygon([(u + r, v), (u + r, v - 2 * r), (u + r + d, v - 2 * r - d), (u + r + d, v - d)],
                         fill=tone(0.55))
        else:
            w = 0.9 * r
            draw.ellipse([u - w, v - 0.3 * r, u + w, v + 0.3 * r], fill=tone(0.6))
            draw.rectangle([u - w, v - 2 * r, u + w, v], fill=tone(0.8))
            draw.rectangle([u + 0.3 * w, v - 2 * r, u + w, v], fill=tone(0.6))
            draw.ellipse([u - w, v - 2 * r - 0.3 * r, u + w, v - 2 * r + 0.3 * r], fill=tone(1.1))
        if shiny:
            hx, hy = u - 0.35 * r, v - 1.45 * r
            draw.ellipse([hx - 0.18 * r, hy - 0.12 * r, hx + 0.18 * r, hy + 0.12 * r], fill=(245, 245, 245))
    return np.asarray(img, dtype=np.uint8).copy()


# ----------------------------------------------------------------------------------------------
# Ground-truth execution of CLEVR programs
# ----------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------
# CLEVR program -> NSCL program
# ----------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------
# Template questions
# ----------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------
# Dataset on disk
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Paths:
    root: Path
    split: str

    @property
    def scenes(self) -> Path:
        return self.root / "scenes" / f"CLEVR_{self.split}_scenes.json"

    @property
    def questions(self) -> Path:
        return self.root / "questions" / f"CLEVR_{self.split}_questions.json"

    def image(self, filename: str) -> Path:
        return self.root / "images" / self.split / filename


def _info(seed: int, questions_per_image: int, min_objects: int, max_objects: int) -> dict:
    return {"generator": GENERATOR, "version": VERSION, "seed": seed, "questions_per_image": questions_per_image,
            "min_objects": min_objects, "max_objects": max_objects}


def generate(data_dir: str | os.PathLike, seed: int, images: int, questions_per_image: int,
             split: str = "val", min_objects: int = 3, max_objects: int = 10) -> Paths:
    """Writes ``images`` synthetic scenes (JSON, PNG) and their questions in the CLEVR layout."""
    from PIL import Image

    paths = Paths(Path(data_dir), split)
    for d in (paths.scenes.parent, paths.questions.parent, paths.image("x").parent):
        d.mkdir(parents=True, exist_ok=True)
    info = {**_info(seed, questions_per_image, min_objects, max_objects), "split": split}
    scenes, questions = [], []
    for i in range(images):
        scene = make_scene(seed, i, min_objects, max_objects, split)
        Image.fromarray(render(scene)).save(paths.image(scene["image_filename"]))
        scenes.append(scene)
        questions.extend(make_questions(scene, seed, questions_per_image))
    for k, q in enumerate(questions):
        q["question_index"] = k
    _write_json(paths.questions, {"info": info, "questions": questions})
    _write_json(paths.scenes, {"info": info, "scenes": scenes})      # written last: marks completion
    return paths


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def ensure(data_dir: str | os.PathLike, seed: int, images: int, questions_per_image: int, split: str = "val",
           min_objects: int = 3, max_objects: int = 10) -> Paths:
    """Reuses ``data_dir`` when it holds enough matching data (synthetic or real CLEVR), else generates."""
    paths = Paths(Path(data_dir), split)
    if paths.scenes.exists() and paths.questions.exists():
        info = json.loads(paths.scenes.read_text()).get("info", {})
        if info.get("generator") != GENERATOR:
            return paths                                     # real CLEVR (or another generator): use as is
        want = _info(seed, questions_per_image, min_objects, max_objects)
        have = {k: info.get(k) for k in want}
        n = len(json.loads(paths.scenes.read_text())["scenes"])
        if have == want and n >= images:
            return paths
    return generate(data_dir, seed, images, questions_per_image, split, min_objects, max_objects)


def estimate_bbox(obj: dict) -> list[float]:
    """A box for a real CLEVR object from its pixel_coords and size (CLEVR scenes carry no boxes)."""
    u, v, depth = obj["pixel_coords"]
    r = (0.7 if obj.get("size") == "large" else 0.35) * 450.0 / max(float(depth), 1.0)
    return [max(0.0, u - r), max(0.0, v - r), min(WIDTH - 1.0, u + r), min(HEIGHT - 1.0, v + r)]


def load(paths: Paths, images: int, questions_per_image: int) -> list[dict]:
    """The first ``images`` scenes with up to ``questions_per_image`` questions each, as samples."""
    from PIL import Image

    scenes = json.loads(paths.scenes.read_text())["scenes"]
    if len(scenes) < images:
        raise WorkloadError(f"{paths.scenes} holds {len(scenes)} scenes, fewer than the {images} samples asked for")
    by_image: dict[int, list[dict]] = {}
    for q in json.loads(paths.questions.read_text())["questions"]:
        lst = by_image.setdefault(q["image_index"], [])
        if len(lst) < questions_per_image:
            lst.append(q)
    samples = []
    for scene in scenes[:images]:
        idx = scene["image_index"]
        image = np.array(Image.open(paths.image(scene["image_filename"])).convert("RGB"), dtype=np.uint8)
        qs = []
        for q in by_image.get(idx, []):
            try:
                blocks = to_nscl(q["program"])
            except ValueError:
                continue                                     # e.g. equal_object: outside NSCL's op set
            qs.append({"question": q["question"], "tokens": tokenize(q["question"]),
                       "program_tokens": program_tokens(q["program"]), "nscl": blocks,
                       "answer": q.get("answer")})
        if not qs:
            raise WorkloadError(f"image {idx} in {paths.root} has no questions NSCL can execute")
        boxes = [o.get("bbox") or estimate_bbox(o) for o in scene["objects"]]
        samples.append({"index": idx, "image": image, "n_objects": len(scene["objects"]),
                        "scene_boxes": np.asarray(boxes, dtype=np.float32), "questions": qs})
    return samples
