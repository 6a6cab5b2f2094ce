"""What differs between two runs besides their times: environment fingerprints and configs."""
from __future__ import annotations

from typing import Any


def fingerprint_diffs(base_manifest: dict, new_manifest: dict, keys: list[str]
                      ) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """(refused, warned): fingerprint keys whose values differ, split by whether they must match."""
    fb = dict(base_manifest.get("fingerprint") or {})
    fn = dict(new_manifest.get("fingerprint") or {})
    for fp, man in ((fb, base_manifest), (fn, new_manifest)):
        if "config_hash" not in fp and man.get("config_hash"):
            fp["config_hash"] = man["config_hash"]
    refused: dict[str, tuple] = {}
    warned: dict[str, tuple] = {}
    for k in sorted(set(fb) | set(fn)):
        a, b = fb.get(k), fn.get(k)
        if a != b:
            (refused if k in keys else warned)[k] = (a, b)
    return refused, warned


def config_diffs(base_cfg: Any, new_cfg: Any, prefix: str = "") -> list[str]:
    """Readable differences between two resolved configs (``key.path: a -> b``)."""
    out: list[str] = []
    if isinstance(base_cfg, dict) and isinstance(new_cfg, dict):
        for k in sorted(set(base_cfg) | set(new_cfg), key=str):
            p = f"{prefix}.{k}" if prefix else str(k)
            if k not in base_cfg:
                out.append(f"{p}: (absent) -> {new_cfg[k]!r}")
            elif k not in new_cfg:
                out.append(f"{p}: {base_cfg[k]!r} -> (absent)")
            else:
                out.extend(config_diffs(base_cfg[k], new_cfg[k], p))
    elif isinstance(base_cfg, list) and isinstance(new_cfg, list) and len(base_cfg) == len(new_cfg):
        for i, (a, b) in enumerate(zip(base_cfg, new_cfg)):
            out.extend(config_diffs(a, b, f"{prefix}[{i}]"))
    elif base_cfg != new_cfg:
        out.append(f"{prefix}: {base_cfg!r} -> {new_cfg!r}")
    return out
