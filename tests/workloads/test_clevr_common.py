"""Shared CLEVR-family pieces: one colour table for both datasets, atomic JSON/PNG writers."""
from __future__ import annotations

import json
import os

import numpy as np
from PIL import Image

from nscharacterize.workloads.clevr_common import attributes
from nscharacterize.workloads.clevr_common.files import write_json, write_png


def test_one_colour_table_covers_both_datasets():
    assert set(attributes.ATTRIBUTES["color"]) == set(attributes.CLEVRER_COLORS) == set(attributes.RGB)
    assert set(attributes.CLEVRER_SHAPES) == set(attributes.ATTRIBUTES["shape"])
    assert set(attributes.CLEVRER_MATERIALS) == set(attributes.ATTRIBUTES["material"])
    assert len(attributes.CONCEPTS) == 15 and attributes.CONCEPT_ATTRIBUTE["metal"] == "material"


def test_writers_replace_whole_files_and_leave_no_temporaries(tmp_path):
    target = tmp_path / "a.json"
    write_json(target, {"x": 1})
    write_json(target, {"x": [1, 2]})
    assert json.loads(target.read_text()) == {"x": [1, 2]}
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    mask = np.eye(4, 5, dtype=np.uint8)
    write_png(tmp_path / "f.png", rgb)
    write_png(tmp_path / "m.png", mask)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "f.png")), rgb)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "m.png")), mask)
    assert sorted(os.listdir(tmp_path)) == ["a.json", "f.png", "m.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert (target.stat().st_mode & 0o777) == 0o666 & ~umask
