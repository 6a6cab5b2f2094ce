"""Synthetic CLEVR: determinism, layout, program validity and question statistics."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from nscharacterize.workloads.clevr_common.attributes import ATTRIBUTES
from nscharacterize.workloads.clevr_common.dataset import Paths, ensure, generate
from nscharacterize.workloads.clevr_common.programs import answer_text, execute_clevr
from nscharacterize.workloads.clevr_common.questions import make_questions
from nscharacterize.workloads.clevr_common.scene_image import render
from nscharacterize.workloads.clevr_common.scenes import HEIGHT, WIDTH, image_filename, make_scene
from nscharacterize.workloads.clevr_common.vocab import program_tokens, tokenize
from nscharacterize.workloads.nscl.programs import NSCL_OPS, execute_nscl_symbolic, to_nscl
from nscharacterize.workloads.nscl.samples import load

N_SCENES, N_Q = 40, 10


@pytest.fixture(scope="module")
def corpus():
    scenes = [make_scene(0, i) for i in range(N_SCENES)]
    return [(s, make_questions(s, 0, N_Q)) for s in scenes]


def test_scenes_are_deterministic_and_seeded():
    a, b = make_scene(5, 3), make_scene(5, 3)
    assert a == b
    assert make_scene(6, 3) != a
    assert np.array_equal(render(a), render(b))
    assert make_questions(a, 5, 4) == make_questions(b, 5, 4)


def test_scene_contents(corpus):
    counts = [len(s["objects"]) for s, _ in corpus]
    assert min(counts) >= 3 and max(counts) <= 10 and len(set(counts)) > 3
    for s, _ in corpus:
        for o in s["objects"]:
            for attr, values in ATTRIBUTES.items():
                assert o[attr] in values
            x0, y0, x1, y1 = o["bbox"]
            assert 0 <= x0 < x1 <= WIDTH and 0 <= y0 < y1 <= HEIGHT
        n = len(s["objects"])
        rel = s["relationships"]
        for i in range(n):                     # left/right and front/behind are inverse relations
            for j in rel["left"][i]:
                assert i in rel["right"][j]
            for j in rel["front"][i]:
                assert i in rel["behind"][j]
            assert sorted(rel["left"][i] + rel["right"][i]) == [k for k in range(n) if k != i]


def test_render_shape():
    img = render(make_scene(0, 0))
    assert img.shape == (320, 480, 3) and img.dtype == np.uint8
    assert img.std() > 5                      # something was drawn


def test_programs_execute_with_sensible_answers(corpus):
    ops = Counter()
    for scene, questions in corpus:
        n = len(scene["objects"])
        assert len(questions) == N_Q
        for q in questions:
            gt = execute_clevr(q["program"], scene)
            assert answer_text(gt) == q["answer"]
            blocks = to_nscl(q["program"])
            for k, b in enumerate(blocks):
                assert b["op"] in NSCL_OPS
                assert all(i < k for i in b["inputs"])
            assert blocks[0]["op"] == "scene"
            assert answer_text(execute_nscl_symbolic(blocks, scene)) == q["answer"]
            last = blocks[-1]["op"]
            if last == "count":
                assert 0 <= int(q["answer"]) <= n
            elif last == "query":
                assert q["answer"] in ATTRIBUTES[blocks[-1]["attribute"]]
            else:
                assert q["answer"] in ("yes", "no")
            ops.update(b["op"] for b in blocks)
            assert program_tokens(q["program"]) and 3 not in program_tokens(q["program"])  # no <unk>
            assert 3 not in tokenize(q["question"])
    assert set(ops) == set(NSCL_OPS)         # every op of NSCL's set is exercised


def test_question_length_matches_clevr(corpus):
    lengths = [len(q["question"].split()) for _, qs in corpus for q in qs]
    assert 15.0 <= np.mean(lengths) <= 21.0    # CLEVR averages ~18 words


def test_answers_are_not_degenerate(corpus):
    answers = Counter(q["answer"] for _, qs in corpus for q in qs)
    assert answers["yes"] > 0 and answers["no"] > 0
    assert len(answers) > 8


def test_translation_of_comparisons_and_filter_chains():
    prog = [{"function": "scene", "inputs": [], "value_inputs": []},
            {"function": "filter_size", "inputs": [0], "value_inputs": ["large"]},
            {"function": "filter_color", "inputs": [1], "value_inputs": ["red"]},
            {"function": "unique", "inputs": [2], "value_inputs": []},
            {"function": "query_shape", "inputs": [3], "value_inputs": []},
            {"function": "scene", "inputs": [], "value_inputs": []},
            {"function": "filter_shape", "inputs": [5], "value_inputs": ["cube"]},
            {"function": "unique", "inputs": [6], "value_inputs": []},
            {"function": "query_shape", "inputs": [7], "value_inputs": []},
            {"function": "equal_shape", "inputs": [4, 8], "value_inputs": []}]
    blocks = to_nscl(prog)
    assert [b["op"] for b in blocks] == ["scene", "filter", "scene", "filter", "query_attribute_equal"]
    assert blocks[1]["concept"] == ["large", "red"]
    assert blocks[-1] == {"op": "query_attribute_equal", "inputs": [1, 3], "attribute": "shape"}
    cmp = [{"function": "scene", "inputs": []}, {"function": "count", "inputs": [0]},
           {"function": "scene", "inputs": []}, {"function": "filter_color", "inputs": [2], "value_inputs": ["red"]},
           {"function": "count", "inputs": [3]}, {"function": "less_than", "inputs": [1, 4]}]
    assert [b["op"] for b in to_nscl(cmp)] == ["scene", "scene", "filter", "count_less"]
    with pytest.raises(ValueError):
        to_nscl([{"function": "scene", "inputs": []}, {"function": "equal_object", "inputs": [0, 0]}])


def test_clevr_layout_and_reuse(tmp_path):
    paths = ensure(tmp_path / "d", seed=1, images=2, questions_per_image=3)
    assert paths.scenes == tmp_path / "d" / "scenes" / "CLEVR_val_scenes.json"
    assert paths.questions.exists() and paths.image("CLEVR_val_000001.png").exists()
    stamp = paths.scenes.stat().st_mtime_ns
    assert ensure(tmp_path / "d", seed=1, images=2, questions_per_image=3).scenes.stat().st_mtime_ns == stamp
    first = json.loads(paths.scenes.read_text())["scenes"]
    ensure(tmp_path / "d", seed=1, images=3, questions_per_image=3)   # more images: regenerated, prefix kept
    again = json.loads(paths.scenes.read_text())["scenes"]
    assert len(again) == 3 and again[:2] == first
    samples = load(paths, 2, 3)
    assert [s["index"] for s in samples] == [0, 1]
    s = samples[0]
    assert s["image"].shape == (320, 480, 3) and s["image"].dtype == np.uint8
    assert s["scene_boxes"].shape == (s["n_objects"], 4)
    assert len(s["questions"]) == 3 and all(q["nscl"] and q["tokens"] for q in s["questions"])


def test_generation_is_byte_identical(tmp_path):
    a = generate(tmp_path / "a", seed=2, images=1, questions_per_image=2)
    b = generate(tmp_path / "b", seed=2, images=1, questions_per_image=2)
    assert a.scenes.read_bytes() == b.scenes.read_bytes()
    assert a.questions.read_bytes() == b.questions.read_bytes()
    name = image_filename("val", 0)
    assert a.image(name).read_bytes() == b.image(name).read_bytes()


def test_real_clevr_layout_is_used_as_is(tmp_path):
    """A CLEVR v1.0 folder (no generator info, no boxes, one unsupported program) loads without regeneration."""
    from PIL import Image

    paths = Paths(tmp_path, "val")
    for d in (paths.scenes.parent, paths.questions.parent, paths.image("x").parent):
        d.mkdir(parents=True)
    scene = make_scene(0, 0)
    for o in scene["objects"]:
        del o["bbox"]
    Image.fromarray(render(scene)).save(paths.image(scene["image_filename"]))
    qs = make_questions(scene, 0, 2)
    qs.append({**qs[0], "program": [{"function": "scene", "inputs": [], "value_inputs": []},
                                    {"function": "equal_object", "inputs": [0, 0], "value_inputs": []}]})
    paths.scenes.write_text(json.dumps({"info": {"version": "1.0"}, "scenes": [scene]}))
    paths.questions.write_text(json.dumps({"info": {"version": "1.0"}, "questions": qs}))
    assert ensure(tmp_path, seed=0, images=1, questions_per_image=5) == paths
    (s,) = load(paths, 1, 5)
    assert len(s["questions"]) == 2                  # the equal_object question is skipped
    assert s["scene_boxes"].shape == (len(scene["objects"]), 4)
    assert (s["scene_boxes"][:, 2] > s["scene_boxes"][:, 0]).all()
