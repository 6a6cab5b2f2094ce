"""Comparison of two saved runs: load, check the environments, reshape samples, judge every row.

The gate works from saved run directories only (``samples.csv`` per-sample values, ``manifest.json``
fingerprints). Runs whose environment fingerprints differ are refused unless ``allow_env_change``.
How a row is judged is in ``verdicts``; the statistics in ``stats``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nscharacterize.rundir import store

from . import runs
from .envdiff import config_diffs, fingerprint_diffs
from .errors import CompareError
from .samples import ALL, SUITE, TOTAL, per_round_values, per_sample_values
from .settings import CompareSettings
from .stats import min_one_sided_p
from .verdicts import Comparison, judge, missing_row, round_check, row_order


def compare_runs(base_path: str | Path, new_path: str | Path, settings: CompareSettings | None = None,
                 allow_env_change: bool = False, allow_keys: tuple[str, ...] = ()) -> Comparison:
    """Compares two saved runs. Raises a UserError (CompareError, RunDirError) on bad or mismatched input.

    ``allow_keys`` names fingerprint keys that may differ without ``allow_env_change`` (the A/B
    mode passes ``config_hash`` when it compares two different configs on purpose).
    """
    settings = settings or CompareSettings()
    (base, bm), (new, nm) = runs.open_run(base_path), runs.open_run(new_path)
    bs, ns = base.samples(), new.samples()
    refused, warned = fingerprint_diffs(bm, nm, settings.fingerprint_keys)
    blocking = {k: v for k, v in refused.items() if k not in allow_keys}
    if blocking and not allow_env_change:
        what = ", ".join(f"{k} {a!r} vs {b!r}" for k, (a, b) in blocking.items())
        raise CompareError(Path(new_path) / store.MANIFEST, "fingerprint",
                           f"environment differs from the base run ({what})",
                           "rerun both in the same environment, or pass --allow-env-change to compare anyway")
    cmp = Comparison(base=str(base_path), new=str(new_path), settings=settings, rows=[],
                     base_commit=bm.get("git_commit"), new_commit=nm.get("git_commit"),
                     env_diffs=refused, env_warnings=warned)
    if "config_hash" in refused:
        cmp.config_diffs = config_diffs(base.config, new.config)

    b_ok, b_failed = runs.ok_workloads(bm, bs)
    n_ok, n_failed = runs.ok_workloads(nm, ns)
    for w in sorted(b_failed):
        cmp.notes.append(f"workload {w} failed in the base run; not compared")
    bv, bsh, kinds = per_sample_values(bs, settings.axes, b_ok)
    nv, nsh, nkinds = per_sample_values(ns, settings.axes, n_ok)
    kinds = {**nkinds, **kinds}
    b_rounds = per_round_values(bs, settings.axes, b_ok) if settings.round_check else []
    n_rounds = per_round_values(ns, settings.axes, n_ok) if settings.round_check else []
    if len(b_rounds) >= 2 and len(n_rounds) >= 2:
        cmp.notes.append(f"A/B rounds: base {len(b_rounds)}, new {len(n_rounds)}; a change must exceed the "
                         "round-to-round drift of each side and hold in every round")
    else:
        b_rounds = n_rounds = []

    for wl in sorted(b_ok - n_ok):
        why = "failed" if wl in n_failed else "is absent"
        cmp.rows.append(missing_row(wl, bv, "missing", f"workload {why} in the new run"))
    for wl in sorted(n_ok - b_ok - b_failed):
        cmp.rows.append(missing_row(wl, nv, "added", "workload is new in this run"))

    keys = [k for k in bv if k in nv]
    keys += [k for k in nv if k not in bv and k[0] in b_ok and k[0] != SUITE]
    keys += [k for k in bv if k not in nv and k[0] in n_ok and k[0] != SUITE]
    few = {}
    for k in keys:
        if k in bv and k in nv and k[1] == ALL and k[3] == TOTAL:
            p_min = min_one_sided_p(len(bv[k]), len(nv[k]))
            cmp.min_p = max(cmp.min_p, p_min)
            if p_min >= settings.alpha:
                few[k[0]] = f"{k[0]} ({len(bv[k])} vs {len(nv[k])})"
    if few:
        cmp.notes.append(f"too few samples to ever reach alpha={settings.alpha:g} (its rows can only be 'within "
                         f"noise'): {', '.join(few.values())}; use more --samples or rounds")
    for key in keys:
        b = bv.get(key, np.zeros(0))
        n = nv.get(key, np.zeros(0))
        if key[3] != TOTAL and not np.any(b) and not np.any(n):
            continue   # a category neither run ever spent time in
        row = judge(key, b, n, bsh.get(key), nsh.get(key), kinds.get(key[:2], ""), settings)
        if b_rounds and row.verdict in ("regressed", "improved"):
            round_check(row, [r.get(key) for r in b_rounds], [r.get(key) for r in n_rounds], settings)
        cmp.rows.append(row)
    if set(b_ok) != set(n_ok) and any(k[0] == SUITE for k in keys):
        cmp.notes.append("suite total compares different workload sets")
    cmp.rows.sort(key=row_order)
    return cmp
