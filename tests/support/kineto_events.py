"""Kineto's complete events ("ph": "X"), as torch.profiler writes them, for tests that build a
small trace of a known shape: the one place their form is written."""
from __future__ import annotations

import json
from pathlib import Path


def event(cat: str, name: str, ts: float, dur: float, *, pid: int = 1, tid: int = 1, **args) -> dict:
    """One complete event: a host op or range, a runtime call, or a device event (a kernel's
    ``tid`` is its stream); ``args`` are its arguments (``correlation``, ``stream``, ``External id``)."""
    return {"ph": "X", "cat": cat, "name": name, "pid": pid, "tid": tid, "ts": ts, "dur": dur, "args": args}


def trace_file(path: Path, events: list[dict], **fields) -> Path:
    """``events`` written to ``path`` as a torch.profiler trace file, with its other top-level
    fields (``deviceProperties``, ``distributedInfo``) from ``fields``; returns ``path``."""
    path.write_text(json.dumps({"schemaVersion": 1, **fields, "traceEvents": events}))
    return path
