"""The attribute vocabularies of CLEVR and CLEVRER, and the one colour table both render with.

The two datasets share CLEVR's eight colours (CLEVRER was rendered with CLEVR's Blender setup)
but list their vocabularies in different orders, and the orders matter: generators sample by
index, so reordering a list changes every generated scene. Each order is kept as its dataset
defines it (CLEVR's properties.json; CLEVRER's NS-DR executor), next to the shared RGB values.
"""
from __future__ import annotations

# CLEVR's colour palette (properties.json), used to draw both datasets' objects.
RGB = {"gray": (87, 87, 87), "red": (173, 35, 35), "blue": (42, 75, 215), "green": (29, 105, 20),
       "brown": (129, 74, 25), "purple": (129, 38, 192), "cyan": (41, 208, 208), "yellow": (255, 238, 51)}

# CLEVR (unprefixed: most workloads are CLEVR ones): attribute -> values, in CLEVR's order; concepts are all values, attribute by attribute.
ATTRIBUTES = {
    "color": ["gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow"],
    "material": ["rubber", "metal"],
    "shape": ["cube", "sphere", "cylinder"],
    "size": ["large", "small"],
}
CONCEPTS = [c for a in ("color", "material", "shape", "size") for c in ATTRIBUTES[a]]   # 15
CONCEPT_ATTRIBUTE = {c: a for a, cs in ATTRIBUTES.items() for c in cs}
RELATIONS = ["left", "right", "front", "behind"]

# CLEVRER: the NS-DR executor's vocabularies (no size attribute; every colour at most once a video).
CLEVRER_COLORS = ["gray", "red", "blue", "green", "brown", "yellow", "cyan", "purple"]
CLEVRER_MATERIALS = ["metal", "rubber"]
CLEVRER_SHAPES = ["sphere", "cylinder", "cube"]

assert set(ATTRIBUTES["color"]) == set(CLEVRER_COLORS) == set(RGB)
