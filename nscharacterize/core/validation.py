"""The one wording of pydantic validation errors: (key path, what is wrong, fix).

Used wherever a pydantic model checks user input (the config, workload parameters, the gate's
compare settings), so every such mistake reads the same on its one line. In the floor because
the gate needs it as much as the config does, and neither may import the other.
"""
from __future__ import annotations

from pydantic import BaseModel, ValidationError

from .errors import key_path


def describe(exc: ValidationError, model: type[BaseModel]) -> tuple[str, str, str]:
    """(key path, what is wrong, fix) for the first error of a pydantic validation."""
    err = exc.errors()[0]
    key = key_path(err["loc"]) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(model, err["loc"][:-1])
        return key, "unknown key", f"allowed keys here: {', '.join(allowed)}"
    if kind == "missing":
        return key, "required key is missing", "add it"
    got = err.get("input")
    got_txt = f" (got {_short(got)})" if not isinstance(got, (dict, list)) else ""
    if kind == "value_error":  # our own validators say "what; fix"
        what, _, fix = str(err["ctx"]["error"]).partition("; ")
        return key, what, fix or "fix the value"
    return key, f"{err['msg']}{got_txt}", "fix the value"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields_at(model: type[BaseModel], loc) -> list[str]:
    current = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        if field is None:
            break
        ann = field.annotation
        inner = getattr(ann, "__args__", None)
        candidates = [ann] + list(inner or [])
        nxt = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nxt is None:
            break
        current = nxt
    return list(current.model_fields)
