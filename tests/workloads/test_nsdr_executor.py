"""The NS-DR executor on a hand-made scene with answers worked out by hand, one per question type."""
from __future__ import annotations

import json

import pytest

from nscharacterize.workloads.nsdr.executor import Executor, Simulation, answer_video

RED = {"color": "red", "material": "rubber", "shape": "sphere"}
BLUE = {"color": "blue", "material": "metal", "shape": "cube"}
GREEN = {"color": "green", "material": "rubber", "shape": "cylinder"}
FRAMES = list(range(0, 60, 5))       # 12 entries; frames 0..45 observed (n_vis 50), 50 and 55 predicted


def _scene() -> dict:
    """Red sphere rests at (row 100, col 100) until the blue cube, entering at frame 10 from the
    left, hits it at frame 20; the red sphere then slides right (+4 px/frame) and will hit the
    resting green cylinder at frame 50, after the video ends. Removing the blue cube: nothing
    collides; removing the green cylinder: only the cube-sphere collision."""
    traj = []
    for f in FRAMES:
        objs = [dict(x=100.0, y=100.0 + 4.0 * max(0, f - 20), **RED)]
        if f >= 10:
            objs.append(dict(x=100.0, y=40.0 + 4.0 * (min(f, 20) - 10), **BLUE))
        objs.append(dict(x=100.0, y=300.0, **GREEN))
        traj.append({"frame_index": f, "objects": objs})
    factual = {"what_if": -1, "trajectory": traj,
               "collisions": [{"frame": 20, "objects": [BLUE, RED]}, {"frame": 50, "objects": [RED, GREEN]}]}
    cfs = [{"what_if": 0, "trajectory": traj, "collisions": []},
           {"what_if": 1, "trajectory": traj, "collisions": []},
           {"what_if": 2, "trajectory": traj, "collisions": [{"frame": 20, "objects": [BLUE, RED]}]}]
    objects = [dict(id=i, **o) for i, o in enumerate((RED, BLUE, GREEN))]
    return {"objects": objects, "predictions": [factual] + cfs}


REF = {"red": ["objects", "red", "filter_color", "sphere", "filter_shape", "unique"],
       "blue": ["objects", "blue", "filter_color", "cube", "filter_shape", "unique"],
       "green": ["objects", "green", "filter_color", "cylinder", "filter_shape", "unique"]}


def _collides(a, b, source="events"):
    return [source] + REF[a][:-1] + ["unique", "filter_collision"] + REF[b] + ["filter_collision", "unique"]


@pytest.fixture(scope="module")
def exe() -> Executor:
    return Executor(Simulation(_scene(), n_vis_frames=50, end_frame=45))


def test_simulation_derives_events_and_velocities(exe):
    sim = exe.sim
    assert sim.in_out == [{"frame": 10, "type": "in", "object": [1]}]
    assert [e["frame"] for e in exe.existing_events if e["type"] == "collision"] == [20]
    assert exe.unseens == [{"type": "collision", "object": [0, 2], "frame": 50}]
    assert sim.cf_events[2][0]["object"] == [1, 0] and sim.cf_events[1] == []
    assert sim.is_moving(0, frame_idx=30) and not sim.is_moving(0, frame_idx=10) and not sim.is_moving(2)
    assert len(exe.modules) == 33


@pytest.mark.parametrize("program, answer", [
    # descriptive
    (["events", "objects", "metal", "filter_material", "cube", "filter_shape", "unique", "filter_in", "unique",
      "query_object", "query_color"], "blue"),
    (["events"] + REF["red"] + ["filter_collision", "count"], "1"),
    (["events"] + REF["red"] + ["filter_collision", "unique"] + REF["red"] + ["query_collision_partner",
                                                                              "query_shape"], "cube"),
    (["objects", "events", "filter_end", "query_frame", "filter_moving", "count"], "1"),
    (["objects", "sphere", "filter_shape", "events"] + REF["blue"] + ["filter_in", "unique", "query_frame",
                                                                      "filter_stationary", "exist"], "yes"),
    (["events"] + REF["red"] + ["filter_collision", "first", "filter_order"] + REF["red"] +
     ["query_collision_partner", "query_material"], "metal"),
    (REF["red"] + ["30", "query_direction"], "error"),          # a frame must be an int, not a token
    (["events", "filter_start", "query_frame"], "0"),
    (["events", "events", "filter_start", "filter_after", "count"], "3"),   # end, in, collision
    (["events", "events"] + REF["blue"] + ["filter_in", "unique", "filter_before", "count"], "1"),  # start
    (["objects", "events", "filter_start", "query_frame", "filter_resting", "count"], "2"),
    (["events"] + REF["green"] + ["filter_out", "exist"], "no"),
    (["events"] + REF["green"] + ["filter_collision", "exist", "negate"], "yes"),
    (["events"] + REF["red"] + ["filter_collision", "unique"], "{'type': 'collision', 'object': [1, 0], "
                                                               "'frame': 20}"),
    (["objects", "unique"], "error"),
])
def test_descriptive_programs(exe, program, answer):
    assert exe.run_program(program) == answer


def test_query_direction_uses_the_row_column_convention(exe):
    # the red sphere moves +4 px/frame along y (columns): right
    assert exe.query_direction(0, 30) == "right"
    assert exe.query_direction(1, 30) == "error"          # the blue cube rests after frame 20: no heading
    sim = Simulation(json.loads(json.dumps(_scene())), n_vis_frames=50, end_frame=45)
    for o in sim.preds[0]["trajectory"][6]["objects"]:
        if o["color"] == "red":
            o["vx"], o["vy"] = -4.0, 0.0                    # moving up the image (decreasing row)
    assert Executor(sim).query_direction(0, 30) == "up"


@pytest.mark.parametrize("choice, answer", [
    (REF["blue"], "yes"),                                           # the presence of the blue cube
    (REF["green"], "no"),                                           # the presence of the green cylinder
    (["events"] + REF["blue"] + ["filter_in", "unique"], "yes"),    # the blue cube entering
])
def test_explanatory(exe, choice, answer):
    question = ["events"] + _collides("red", "blue") + ["filter_ancestor", "belong_to"]
    assert exe.run_program(choice + question) == answer


@pytest.mark.parametrize("choice, answer", [
    (_collides("red", "green", "all_events"), "yes"),
    (_collides("blue", "green", "all_events"), "no"),
    (_collides("red", "blue", "all_events"), "no"),      # it happened already, not next
])
def test_predictive(exe, choice, answer):
    assert exe.run_program(choice + ["unseen_events", "belong_to"]) == answer


@pytest.mark.parametrize("removed, choice, negate, answer", [
    ("blue", ("red", "green"), False, "no"),
    ("green", ("blue", "red"), False, "yes"),
    ("green", ("blue", "red"), True, "no"),
    ("red", ("blue", "green"), True, "yes"),
])
def test_counterfactual(exe, removed, choice, negate, answer):
    question = REF[removed] + ["counterfact_events", "belong_to"] + (["negate"] if negate else [])
    assert exe.run_program(_collides(*choice, "all_events") + question) == answer
    cf = exe.run_program(["events"] + REF[removed] + ["filter_counterfact", "count"])
    assert cf == ("1" if removed == "green" else "0")


def test_answer_video_reads_the_json_files(tmp_path):
    (tmp_path / "sim.json").write_text(json.dumps(_scene()))
    programs = {"scene_index": 0, "questions": [
        {"question_id": 0, "question_type": "descriptive", "program": ["events"] + REF["red"] +
         ["filter_collision", "count"]},
        {"question_id": 1, "question_type": "counterfactual", "question_program": REF["green"] +
         ["counterfact_events", "belong_to"], "choices": [
            {"choice_id": 0, "program": _collides("blue", "red", "all_events")},
            {"choice_id": 1, "program": _collides("red", "green", "all_events")}]}]}
    (tmp_path / "programs.json").write_text(json.dumps(programs))
    answers = answer_video(str(tmp_path / "sim.json"), str(tmp_path / "programs.json"), 50, 45)
    assert answers == {0: "1", 1: ["correct", "wrong"]}


def _counting(monkeypatch, owner, name: str) -> list:
    calls: list = []
    real = getattr(owner, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


def test_get_obj_location_checks_visibility_first_as_ns_dr_asserts(exe, monkeypatch):
    visible = _counting(monkeypatch, Simulation, "is_visible")
    assert exe.sim.get_obj_location(1, frame_idx=15) == (100.0, 60.0)
    assert len(visible) == 1
    with pytest.raises(ValueError):
        exe.sim.get_obj_location(1, frame_idx=5)              # the blue cube enters at frame 10
    assert len(visible) == 2


def test_query_direction_rescans_the_frame_for_every_direction_test(exe, monkeypatch):
    import nscharacterize.workloads.nsdr.executor as ex

    scans = _counting(monkeypatch, Simulation, "get_frame_ann")
    arctans = _counting(monkeypatch, ex, "_np_direction_angle")
    assert exe.query_direction(0, 30) == "right"             # second test: left, then right
    assert (len(scans), len(arctans)) == (2, 2)
    scans.clear()
    arctans.clear()
    assert exe.query_direction(1, 30) == "error"             # at rest: all four tests fail
    assert (len(scans), len(arctans)) == (4, 4)


def test_answer_video_builds_one_simulation_per_question_family_script(tmp_path, monkeypatch):
    (tmp_path / "sim.json").write_text(json.dumps(_scene()))
    (tmp_path / "programs.json").write_text(json.dumps({"scene_index": 0, "questions": [
        {"question_id": 0, "question_type": "descriptive", "program": ["objects", "count"]}]}))
    builds = _counting(monkeypatch, Simulation, "build_simulation")
    loads = _counting(monkeypatch, __import__("nscharacterize.workloads.nsdr.executor", fromlist=["x"]),
                      "load_predictions_json")
    assert answer_video(str(tmp_path / "sim.json"), str(tmp_path / "programs.json"), 50, 45) == {0: "3"}
    assert len(builds) == len(loads) == 2                     # run_oe and run_mc, each for the video
