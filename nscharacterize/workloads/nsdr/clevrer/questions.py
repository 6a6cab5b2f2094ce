"""CLEVRER's four question types (descriptive, explanatory, predictive, counterfactual) with
postfix programs over the NS-DR executor's modules; answers come from running the executor on the
ground-truth trajectories."""
from __future__ import annotations

import numpy as np

from ...clevr_common.attributes import CLEVRER_SHAPES
from .videos import Video


def _ref(o: dict) -> tuple[str, list[str]]:
    """Words and program that pick one object (colours are unique within a scene)."""
    return (f"the {o['color']} {o['shape']}",
            ["objects", o["color"], "filter_color", o["shape"], "filter_shape", "unique"])


def _collision_event_prog(a: dict, b: dict, source: str = "events") -> list[str]:
    return ([source, "objects", a["color"], "filter_color", a["shape"], "filter_shape", "unique", "filter_collision",
             "objects", b["color"], "filter_color", b["shape"], "filter_shape", "unique", "filter_collision", "unique"])


def _descriptive(rng, objs: list[dict]) -> tuple[str, list[str]]:
    t = int(rng.integers(6))
    o = objs[int(rng.integers(len(objs)))]
    o2 = objs[int(rng.integers(len(objs)))]
    words, prog = _ref(o)
    if t == 0:
        return (f"What is the color of the {o['material']} {o['shape']} that enters the scene?",
                ["events", "objects", o["material"], "filter_material", o["shape"], "filter_shape", "unique",
                 "filter_in", "unique", "query_object", "query_color"])
    if t == 1:
        return (f"How many collisions involving {words} happen during the whole video?",
                ["events"] + prog + ["filter_collision", "count"])
    if t == 2:
        return (f"What is the shape of the object that collides with {words}?",
                ["events"] + prog + ["filter_collision", "unique"] + prog + ["query_collision_partner", "query_shape"])
    if t == 3:
        return ("How many objects are still moving when the video ends?",
                ["objects", "events", "filter_end", "query_frame", "filter_moving", "count"])
    if t == 4:
        shape = CLEVRER_SHAPES[int(rng.integers(3))]
        w2, p2 = _ref(o2)
        return (f"Are there any stationary {shape}s when {w2} enters the scene?",
                ["objects", shape, "filter_shape", "events"] + p2 +
                ["filter_in", "unique", "query_frame", "filter_stationary", "exist"])
    return (f"What is the material of the first object to collide with {words}?",
            ["events"] + prog + ["filter_collision", "first", "filter_order"] + prog +
            ["query_collision_partner", "query_material"])


def _collision_choice(a: dict, b: dict, source: str) -> tuple[str, list[str]]:
    return f"The {a['color']} {a['shape']} collides with the {b['color']} {b['shape']}", \
        _collision_event_prog(a, b, source)


def _mc(rng, objs: list[dict], qtype: str, sim_pred: dict) -> tuple[str, list[str], list[tuple[str, list[str]]]]:
    pairs = [(a, b) for i, a in enumerate(objs) for b in objs[i + 1:]]
    choices: list[tuple[str, list[str]]] = []
    if qtype == "explanatory":
        cols = [c for c in sim_pred["predictions"][0]["collisions"]]
        a, b = (cols[int(rng.integers(len(cols)))]["objects"] if cols else (objs[0], objs[-1]))
        q = (f"Which of the following is responsible for the collision between the {a['color']} {a['shape']} "
             f"and the {b['color']} {b['shape']}?")
        qprog = ["events"] + _collision_event_prog(a, b) + ["filter_ancestor", "belong_to"]
        for _ in range(4):
            c = objs[int(rng.integers(len(objs)))]
            kind = int(rng.integers(3))
            if kind == 0:
                w, p = _ref(c)
                choices.append((f"The presence of {w} in the scene", p))
            elif kind == 1:
                w, p = _ref(c)
                choices.append((f"The {c['color']} {c['shape']} entering the scene from outside",
                                ["events"] + p + ["filter_in", "unique"]))
            else:
                x, y = pairs[int(rng.integers(len(pairs)))]
                choices.append((f"The collision between the {x['color']} {x['shape']} and the "
                                f"{y['color']} {y['shape']}", _collision_event_prog(x, y)))
        return q, qprog, choices
    picks = rng.permutation(len(pairs))[:4]
    for k in picks:
        x, y = pairs[int(k)]
        choices.append(_collision_choice(x, y, "all_events"))
    if qtype == "predictive":
        q = "Which of the following events will happen next, after the video ends, if nothing is changed?"
        return q, ["unseen_events", "belong_to"], choices
    removed = objs[int(rng.integers(len(objs)))]
    w, p = _ref(removed)
    if rng.random() < 0.5:
        q = f"Which of the following events will happen if {w} is removed from the scene before it starts?"
        return q, p + ["counterfact_events", "belong_to"], choices
    q = f"Which of the following events will not happen if {w} is removed from the scene before it starts?"
    return q, p + ["counterfact_events", "belong_to", "negate"], choices


def make_questions(video: Video, sim_pred: dict, seed: int) -> tuple[list[dict], list[dict]]:
    """Returns (questions in CLEVRER's validation.json form, parsed programs for the executor)."""
    from ..executor import Executor, Simulation

    cfg = video.cfg
    sim = Simulation(sim_pred, n_vis_frames=cfg.n_vis_frames, end_frame=(cfg.frames - 1) * cfg.frame_stride)
    exe = Executor(sim)
    rng = np.random.default_rng([seed, video.video_id, 7])
    objs = video.objects
    questions, programs = [], []
    wanted = [("descriptive", cfg.descriptive), ("explanatory", cfg.explanatory),
              ("predictive", cfg.predictive), ("counterfactual", cfg.counterfactual)]
    for qtype, count in wanted:
        made = 0
        for _attempt in range(40 * max(count, 1)):
            if made >= count:
                break
            qid = len(questions)
            if qtype == "descriptive":
                text, prog = _descriptive(rng, objs)
                ans = exe.run(prog)
                if ans == "error":
                    continue
                questions.append({"question_id": qid, "question": text, "question_type": qtype,
                                  "answer": ans})
                programs.append({"question_id": qid, "question_type": qtype, "program": prog})
            else:
                text, qprog, choices = _mc(rng, objs, qtype, sim_pred)
                answers = [exe.run(p + qprog) for _, p in choices]
                if "error" in answers or len({t for t, _ in choices}) < len(choices):
                    continue
                mapped = ["correct" if a == "yes" else "wrong" for a in answers]
                questions.append({"question_id": qid, "question": text, "question_type": qtype,
                                  "choices": [{"choice_id": i, "choice": t, "answer": a}
                                              for i, ((t, _), a) in enumerate(zip(choices, mapped))]})
                programs.append({"question_id": qid, "question_type": qtype, "question_program": qprog,
                                 "choices": [{"choice_id": i, "program": p, "answer": a}
                                             for i, ((_, p), a) in enumerate(zip(choices, mapped))]})
            made += 1
    return questions, programs


def question_words(q: dict) -> int:
    """Words in a question as the paper counts them (multiple choice: question plus choices)."""
    n = len(q["question"].split())
    return n + sum(len(c["choice"].split()) for c in q.get("choices", []))

