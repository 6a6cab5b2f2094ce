"""The NS-DR symbolic executor: pure Python (plus numpy scalars), no torch.

Two parts, as in NS-DR:
- :class:`Simulation` reads the dynamics predictor's ``sim_%05d.json`` (objects, then one
  prediction per ``what_if``: the factual rollout first, then one per removed object) and derives
  per-object velocities (finite differences over the 5-frame steps), in/out events from
  visibility changes, observed and unseen collisions, and counterfactual collisions.
- :class:`Executor` runs postfix programs on a stack: a token that is not a module name is pushed,
  a module pops its arguments and pushes its result, ``'error'`` aborts. 33 modules.

Function names follow the profiling taxonomy (nscharacterize/taxonomy/rules/python.yaml, Fig. 7 of the paper):
``filter_*``/``query_*``/``is_*``/``get_*`` look up object and event features (feature query),
``run_program`` is the stack-machine dispatch (program control), ``load_*_json`` parse JSON
(parsing/IO), and ``_np_*`` helpers do the numpy arithmetic (speeds, angles, averages).
"""
from __future__ import annotations

import json

import numpy as np

from ..clevr_common.attributes import CLEVRER_COLORS, CLEVRER_MATERIALS, CLEVRER_SHAPES

MOVING_V_TH = 0.1     # speed (pixels/frame) above which an object is moving
FRAME_DIFF = 5        # frames between trajectory entries
DIR_HALF_ANGLE = 40   # query_direction window, degrees


# ------------------------------------------------------------------------------- parsing / IO
def load_predictions_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def load_programs_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


# ----------------------------------------------------------------------------- numpy arithmetic
def _np_speed(vx: float, vy: float) -> float:
    return float(np.linalg.norm([vx, vy]))


def _np_average_velocity(values: list) -> float:
    return float(np.average(values))


def _np_direction_angle(vx: float, vy: float) -> float:
    """Heading in degrees in NS-DR's convention (arctan of vy/vx, +180 when moving to -x)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = float(np.arctan(np.divide(vy, vx)) * 180 / np.pi)
    if vx < 0:
        theta += 180
    return theta


# --------------------------------------------------------------------------------- simulation
class Simulation:
    """Events and motion derived from predicted trajectories (one video)."""

    def __init__(self, ann, n_vis_frames: int = 128, end_frame: int = 125, frame_diff: int = FRAME_DIFF):
        if isinstance(ann, str):
            ann = load_predictions_json(ann)
        else:  # keep the caller's dict intact: the simulation annotates trajectory entries
            ann = json.loads(json.dumps(ann))
        self.objs = ann["objects"]
        self.preds = ann["predictions"]
        self.num_objs = len(self.objs)
        self.n_vis_frames = n_vis_frames
        self.end_frame = end_frame
        self.frame_diff = frame_diff
        self.build_simulation()

    # feature lookups --------------------------------------------------------------------------
    def get_visible_objs(self) -> list:
        return [o["id"] for o in self.objs]

    def get_static_attrs(self, obj_idx: int) -> dict:
        for o in self.objs:
            if o["id"] == obj_idx:
                return {"color": o["color"], "material": o["material"], "shape": o["shape"]}
        raise ValueError(f"invalid object index {obj_idx}")

    def get_obj_idx(self, obj: dict) -> int:
        for o in self.objs:
            if o["color"] == obj["color"] and o["material"] == obj["material"] and o["shape"] == obj["shape"]:
                return o["id"]
        return -1

    def get_frame_ann(self, frame_idx=None, ann_idx=None, what_if: int = -1) -> dict:
        traj = self.preds[what_if + 1]["trajectory"]
        if frame_idx is None:
            return traj[ann_idx]
        for t in traj:
            if t["frame_index"] == frame_idx:
                return t
        raise ValueError(f"invalid frame {frame_idx}")

    def get_obj_location(self, obj_idx: int, frame_idx=None, ann_idx=None, what_if: int = -1):
        # NS-DR asserts visibility first: one more scan of the frame before the one that finds it
        if not self.is_visible(obj_idx, frame_idx, ann_idx, what_if=what_if):
            raise ValueError(f"object {obj_idx} not visible")
        for o in self.get_frame_ann(frame_idx, ann_idx, what_if)["objects"]:
            if self.get_obj_idx(o) == obj_idx:
                return o["x"], o["y"]
        raise ValueError(f"object {obj_idx} not visible")

    def is_visible(self, obj_idx: int, frame_idx=None, ann_idx=None, what_if: int = -1) -> bool:
        if frame_idx is not None or ann_idx is not None:
            for o in self.get_frame_ann(frame_idx, ann_idx, what_if)["objects"]:
                if self.get_obj_idx(o) == obj_idx:
                    return True
            return False
        for i, t in enumerate(self.preds[0]["trajectory"]):
            if t["frame_index"] < self.n_vis_frames and self.is_visible(obj_idx, ann_idx=i, what_if=what_if):
                return True
        return False

    def is_moving(self, obj_idx: int, frame_idx=None, ann_idx=None) -> bool:
        if frame_idx is not None or ann_idx is not None:
            for o in self.get_frame_ann(frame_idx, ann_idx)["objects"]:
                if self.get_obj_idx(o) == obj_idx:
                    return _np_speed(o["vx"], o["vy"]) > MOVING_V_TH
            raise ValueError(f"object {obj_idx} not visible at frame {frame_idx}")
        for i, _t in enumerate(self.preds[0]["trajectory"]):
            if self.is_visible(obj_idx, ann_idx=i) and self.is_moving(obj_idx, ann_idx=i):
                return True
        return False

    def get_heading(self, obj_idx: int, frame_idx: int) -> float:
        """The heading at ``frame_idx``: a scan of the frame and an arctan, on every call (NS-DR's
        four direction tests each rescan and recompute it)."""
        for o in self.get_frame_ann(frame_idx)["objects"]:
            if self.get_obj_idx(o) == obj_idx:
                return _np_direction_angle(o["vx"], o["vy"])
        raise ValueError(f"object {obj_idx} not visible at frame {frame_idx}")

    def is_moving_left(self, obj_idx: int, frame_idx: int, half: float = DIR_HALF_ANGLE) -> bool:
        theta = self.get_heading(obj_idx, frame_idx)
        return theta > 270 - half or theta < -90 + half

    def is_moving_right(self, obj_idx: int, frame_idx: int, half: float = DIR_HALF_ANGLE) -> bool:
        theta = self.get_heading(obj_idx, frame_idx)
        return 90 - half < theta < 90 + half

    def is_moving_up(self, obj_idx: int, frame_idx: int, half: float = DIR_HALF_ANGLE) -> bool:
        theta = self.get_heading(obj_idx, frame_idx)
        return 180 - half < theta < 180 + half

    def is_moving_down(self, obj_idx: int, frame_idx: int, half: float = DIR_HALF_ANGLE) -> bool:
        theta = self.get_heading(obj_idx, frame_idx)
        return -half < theta < half

    # construction -----------------------------------------------------------------------------
    def build_simulation(self) -> None:
        """Velocities, in/out events and collisions of the factual run, and the collisions of
        every counterfactual run (nested loops over trajectory entries and objects)."""
        self.in_out, self.collisions, self.cf_events = [], [], {}
        p = self.preds[0]
        traj = p["trajectory"]
        last = len(traj) - 1
        for i, t in enumerate(traj):
            for o in t["objects"]:
                o["id"] = self.get_obj_idx(o)
                vxs, vys = [], []
                if i != 0 and not self.is_visible(o["id"], ann_idx=i - 1):
                    self.in_out.append({"frame": t["frame_index"], "type": "in", "object": [o["id"]]})
                elif i != 0:
                    x0, y0 = self.get_obj_location(o["id"], ann_idx=i - 1)
                    vxs.append((o["x"] - x0) / self.frame_diff)
                    vys.append((o["y"] - y0) / self.frame_diff)
                if i != last and not self.is_visible(o["id"], ann_idx=i + 1):
                    self.in_out.append({"frame": traj[i + 1]["frame_index"], "type": "out", "object": [o["id"]]})
                elif i != last:
                    x1, y1 = self.get_obj_location(o["id"], ann_idx=i + 1)
                    vxs.append((x1 - o["x"]) / self.frame_diff)
                    vys.append((y1 - o["y"]) / self.frame_diff)
                if vxs:
                    o["vx"], o["vy"] = _np_average_velocity(vxs), _np_average_velocity(vys)
                else:
                    o["vx"], o["vy"] = 0.0, 0.0
        for c in p["collisions"]:
            self.collisions.append({"type": "collision", "frame": c["frame"],
                                    "object": [self.get_obj_idx(c["objects"][0]), self.get_obj_idx(c["objects"][1])]})
        for pred in self.preds[1:]:
            self.cf_events[pred["what_if"]] = [
                {"type": "collision", "frame": c["frame"],
                 "object": [self.get_obj_idx(c["objects"][0]), self.get_obj_idx(c["objects"][1])]}
                for c in pred["collisions"]]


# ----------------------------------------------------------------------------------- executor
class Executor:
    """Postfix stack machine over the 33 NS-DR modules."""

    def __init__(self, sim: Simulation):
        self.sim = sim
        self.all_objs = sim.get_visible_objs()
        self.existing_events = self.get_events()
        self.unseens = self.get_unseen_events()
        self.causal_traces = self.get_causal_traces()
        self.modules = {
            "objects": (self.objects, 0), "events": (self.events, 0), "unique": (self.unique, 1),
            "count": (self.count, 1), "exist": (self.exist, 1), "negate": (self.negate, 1),
            "belong_to": (self.belong_to, 2),
            "filter_color": (self.filter_color, 2), "filter_material": (self.filter_material, 2),
            "filter_shape": (self.filter_shape, 2), "filter_resting": (self.filter_resting, 2),
            "filter_moving": (self.filter_moving, 2), "filter_stationary": (self.filter_stationary, 2),
            "filter_start": (self.filter_start, 1), "filter_end": (self.filter_end, 1),
            "filter_in": (self.filter_in, 2), "filter_out": (self.filter_out, 2),
            "filter_collision": (self.filter_collision, 2), "filter_order": (self.filter_order, 2),
            "filter_before": (self.filter_before, 2), "filter_after": (self.filter_after, 2),
            "query_color": (self.query_color, 1), "query_material": (self.query_material, 1),
            "query_shape": (self.query_shape, 1), "query_direction": (self.query_direction, 2),
            "query_frame": (self.query_frame, 1), "query_object": (self.query_object, 1),
            "query_collision_partner": (self.query_collision_partner, 2),
            "filter_ancestor": (self.filter_ancestor, 2), "unseen_events": (self.unseen_events, 0),
            "all_events": (self.all_events, 0), "counterfact_events": (self.counterfact_events, 1),
            "filter_counterfact": (self.filter_counterfact, 2),
        }

    # program control ---------------------------------------------------------------------------
    def run(self, program: list) -> str:
        return self.run_program(program)

    def run_program(self, program: list) -> str:
        stack: list = []
        for token in program:
            if token in ("<END>", "<NULL>"):
                break
            if token == "<START>":
                continue
            if token not in self.modules:
                stack.append(token)
                continue
            func, nargs = self.modules[token]
            if len(stack) < nargs:
                return "error"
            argv = stack[len(stack) - nargs:] if nargs else []
            del stack[len(stack) - nargs:]
            out = func(*argv)
            if isinstance(out, str) and out == "error":
                return "error"
            stack.append(out)
        return str(stack[-1]) if stack else "error"

    # event bookkeeping (query the simulation's features) ---------------------------------------
    def get_events(self) -> list:
        sim = self.sim
        events = [{"type": "start", "frame": 0}, {"type": "end", "frame": sim.end_frame}]
        for io in sim.in_out:
            if io["frame"] < sim.n_vis_frames:
                events.append({"type": io["type"], "object": io["object"], "frame": io["frame"]})
        for c in sim.collisions:
            if c["frame"] < sim.n_vis_frames:
                events.append({"type": "collision", "object": c["object"], "frame": c["frame"]})
        return events

    def get_unseen_events(self) -> list:
        sim = self.sim
        unseen = [{"type": io["type"], "object": io["object"], "frame": io["frame"]}
                  for io in sim.in_out if io["frame"] >= sim.n_vis_frames]
        unseen += [{"type": "collision", "object": c["object"], "frame": c["frame"]}
                   for c in sim.collisions if c["frame"] >= sim.n_vis_frames]
        return unseen

    def get_causal_traces(self) -> list:
        traces = {o: [] for o in self.all_objs}
        for e in self.existing_events:
            if e["type"] not in ("start", "end"):
                for o in e["object"]:
                    if o in traces:
                        traces[o].append(e)
        return [sorted(tr, key=lambda k: k["frame"]) for tr in traces.values()]

    # set / entry modules -----------------------------------------------------------------------
    def objects(self):
        return self.all_objs[:]

    def events(self):
        return sorted(self.existing_events, key=lambda k: k["frame"])

    def unique(self, items):
        if type(items) is not list or len(items) != 1:
            return "error"
        return items[0]

    def count(self, items):
        return len(items) if type(items) is list else "error"

    def exist(self, items):
        if type(items) is not list:
            return "error"
        return "yes" if items else "no"

    def negate(self, answer):
        return {"yes": "no", "no": "yes"}.get(answer, "error")

    def belong_to(self, entry, events):
        if type(events) is not list:
            return "error"
        if type(entry) is dict:
            for e in events:
                if e["type"] not in ("start", "end") and entry["type"] == e["type"] \
                        and set(entry["object"]) == set(e["object"]):
                    return "yes"
            return "no"
        if type(entry) is int:
            for e in events:
                if e["type"] not in ("start", "end") and entry in e["object"]:
                    return "yes"
            return "no"
        return "error"

    # object filters ---------------------------------------------------------------------------
    def filter_by_static_attr(self, objs, key: str, value: str, vocab: list):
        if type(objs) is not list or (objs and type(objs[0]) is not int) or value not in vocab:
            return "error"
        return [o for o in objs if self.sim.get_static_attrs(o)[key] == value]

    def filter_color(self, objs, color):
        return self.filter_by_static_attr(objs, "color", color, CLEVRER_COLORS)

    def filter_material(self, objs, material):
        return self.filter_by_static_attr(objs, "material", material, CLEVRER_MATERIALS)

    def filter_shape(self, objs, shape):
        return self.filter_by_static_attr(objs, "shape", shape, CLEVRER_SHAPES)

    def filter_by_motion(self, objs, frame, moving: bool):
        if type(objs) is not list:
            return "error"
        if type(frame) is not int and frame != "null":
            return "error"
        frame = None if frame == "null" else frame
        return [o for o in objs
                if self.sim.is_visible(o, frame_idx=frame) and self.sim.is_moving(o, frame_idx=frame) == moving]

    def filter_resting(self, objs, frame):
        return self.filter_by_motion(objs, frame, False)

    def filter_moving(self, objs, frame):
        return self.filter_by_motion(objs, frame, True)

    def filter_stationary(self, objs, frame):
        return self.filter_by_motion(objs, frame, False)

    # event filters ----------------------------------------------------------------------------
    @staticmethod
    def _is_event_list(events) -> bool:
        return type(events) is list and not (events and type(events[0]) is not dict)

    def filter_start(self, events):
        if not self._is_event_list(events):
            return "error"
        return next((e for e in events if e["type"] == "start"), "error")

    def filter_end(self, events):
        if not self._is_event_list(events):
            return "error"
        return next((e for e in events if e["type"] == "end"), "error")

    def filter_by_event_type(self, events, objs, etype: str):
        if not self._is_event_list(events):
            return "error"
        if type(objs) is not list:
            objs = [objs]
        if objs and type(objs[0]) is not int:
            return "error"
        if etype == "collision":
            return [e for e in events if e["type"] == "collision" and (e["object"][0] in objs or e["object"][1] in objs)]
        return [e for e in events if e["type"] == etype and e["object"][0] in objs]

    def filter_in(self, events, objs):
        return self.filter_by_event_type(events, objs, "in")

    def filter_out(self, events, objs):
        return self.filter_by_event_type(events, objs, "out")

    def filter_collision(self, events, objs):
        return self.filter_by_event_type(events, objs, "collision")

    def filter_order(self, events, order):
        if not self._is_event_list(events) or order not in ("first", "second", "last"):
            return "error"
        idx = {"first": 0, "second": 1, "last": -1}[order]
        if not events or idx >= len(events):
            return "error"
        return events[idx]

    def filter_before(self, events, event):
        if not self._is_event_list(events) or type(event) is not dict or "type" not in event:
            return "error"
        return [e for e in events if e["frame"] < event["frame"]]

    def filter_after(self, events, event):
        if not self._is_event_list(events) or type(event) is not dict or "type" not in event:
            return "error"
        return [e for e in events if e["frame"] > event["frame"]]

    # object queries ---------------------------------------------------------------------------
    def query_color(self, obj):
        return self.sim.get_static_attrs(obj)["color"] if type(obj) is int else "error"

    def query_material(self, obj):
        return self.sim.get_static_attrs(obj)["material"] if type(obj) is int else "error"

    def query_shape(self, obj):
        return self.sim.get_static_attrs(obj)["shape"] if type(obj) is int else "error"

    def query_direction(self, obj, frame):
        """left/right/up/down: the heading within +-40 degrees of each direction (NS-DR convention).
        As in NS-DR, each direction test rescans the frame and recomputes the heading; an object
        not in the frame answers "error" (NS-DR raises)."""
        if type(obj) is not int or type(frame) is not int:
            return "error"
        try:
            if self.sim.is_moving_left(obj, frame):
                return "left"
            if self.sim.is_moving_right(obj, frame):
                return "right"
            if self.sim.is_moving_up(obj, frame):
                return "up"
            if self.sim.is_moving_down(obj, frame):
                return "down"
        except ValueError:
            return "error"
        return "error"

    # event queries ----------------------------------------------------------------------------
    def query_frame(self, event):
        return event["frame"] if type(event) is dict else "error"

    def query_object(self, event):
        if type(event) is not dict or event["type"] not in ("in", "out"):
            return "error"
        return event["object"][0]

    def query_collision_partner(self, event, obj):
        if type(event) is not dict or type(obj) is not int or event["type"] != "collision":
            return "error"
        a, b = event["object"]
        if obj not in (a, b):
            return "error"
        return b if obj == a else a

    # explanatory ------------------------------------------------------------------------------
    def _find_causes(self, target: dict, causes: list) -> None:
        """Recursively collects the ancestors of ``target`` in the per-object causal traces."""
        nxt = []
        for tr in self.causal_traces:
            if target in tr:
                i = tr.index(target)
                if i > 0 and tr[i - 1] not in nxt:
                    nxt.append(tr[i - 1])
                    if tr[i - 1] not in causes:
                        causes.append(tr[i - 1])
        for e in nxt:
            self._find_causes(e, causes)

    def filter_ancestor(self, events, event):
        if not self._is_event_list(events) or type(event) is not dict or "type" not in event:
            return "error"
        causes: list = []
        self._find_causes(event, causes)
        return [e for e in events if e in causes]

    # predictive -------------------------------------------------------------------------------
    def unseen_events(self):
        return self.unseens

    # counterfactual ---------------------------------------------------------------------------
    def all_events(self):
        objs = self.all_objs
        return [{"type": "collision", "object": [objs[i], objs[j]]}
                for i in range(len(objs)) for j in range(i + 1, len(objs))]

    def counterfact_events(self, remove_obj):
        if type(remove_obj) is not int or remove_obj not in self.all_objs:
            return "error"
        return self.sim.cf_events.get(remove_obj, [])

    def filter_counterfact(self, events, remove_obj):
        if not self._is_event_list(events):
            return "error"
        cf = self.counterfact_events(remove_obj)
        if cf == "error":
            return "error"
        pairs = [set(e["object"]) for e in cf if e["type"] == "collision"]
        return [e for e in events if "object" in e and set(e["object"]) in pairs]  # start/end have none


def answer_video(predictions_path: str, programs_path: str, n_vis_frames: int, end_frame: int) -> dict:
    """Loads one video's predictions and programs and answers every question. NS-DR answers with two
    scripts, run_oe (open-ended) and run_mc (multiple choice), and each builds its own Simulation
    (JSON load plus setup) and Executor for the video; so does this. Returns ``{question_id:
    answer}``; multiple choice gives one answer per choice."""
    programs = load_programs_json(programs_path)
    answers: dict = {}
    verdict = {"yes": "correct", "no": "wrong", "error": "error"}
    exe = Executor(Simulation(predictions_path, n_vis_frames=n_vis_frames, end_frame=end_frame))   # run_oe
    for q in programs["questions"]:
        if q["question_type"] == "descriptive":
            answers[q["question_id"]] = exe.run_program(q["program"])
    exe = Executor(Simulation(predictions_path, n_vis_frames=n_vis_frames, end_frame=end_frame))   # run_mc
    for q in programs["questions"]:
        if q["question_type"] != "descriptive":
            answers[q["question_id"]] = [verdict.get(exe.run_program(c["program"] + q["question_program"]), "error")
                                         for c in q["choices"]]
    return answers
