"""Comparison of two saved runs: load, check the environments, reshape samples, judge every row.

The gate works from saved run directories only (``samples.csv`` per-sample values, ``manifest.json``
fingerprints). Runs whose environment fingerprints differ are refused unless ``allow_env_change``.
How a row is judged is in ``verdicts``; the statistics in ``stats``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nscharacterize.rundir import store

from . import runs
from .envdiff import config_diffs, fingerprint_diffs
from .errors import CompareError
from .samples import ALL, SUITE, TOTAL, per_round_values, per_sample_values
from .settings import LAST_LOOK_SHARE, PASS_ERROR, CompareSettings
from .stats import min_one_sided_p, round_changes, shared_prior
from .verdicts import (Comparison, beyond_threshold, contention_check, decide, judge, missing_row, round_check,
                       row_order, run_drift, shift_check, statistic)


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
    cmp = compare_frames((bm, bs), (nm, ns), settings, str(base_path), str(new_path))
    cmp.env_diffs, cmp.env_warnings = refused, warned
    if "config_hash" in refused:
        cmp.config_diffs = config_diffs(base.config, new.config)
    return cmp


def machine_records(manifest: dict) -> list[dict]:
    """The machine records of a run: one per A/B round of a merged run, else the run's own."""
    rounds = (manifest.get("ab") or {}).get("machine")
    if rounds:
        return [m for m in rounds if isinstance(m, dict)]
    m = manifest.get("machine")
    return [m] if isinstance(m, dict) else []


def contention(manifest: dict, workload: str) -> float | None:
    """The CPU contention one workload of a single run saw (its own record, else the run's)."""
    for w in manifest.get("workloads", []):
        if w.get("name") == workload and isinstance(w.get("machine"), dict):
            c = w["machine"].get("contention")
            if isinstance(c, (int, float)):
                return float(c)
    c = (manifest.get("machine") or {}).get("contention")
    return float(c) if isinstance(c, (int, float)) else None


def machine_note(side: str, records: list[dict]) -> str | None:
    """One line on what the machine did during a side's run(s), or None when nothing was recorded."""
    records = [r for r in records if r.get("contention") is not None or r.get("other_busy") is not None]
    if not records:
        return None
    cont = [r["contention"] for r in records if r.get("contention") is not None]
    busy = [r["other_busy"] for r in records if r.get("other_busy") is not None]
    spread = [r["repeat_spread"] for r in records if r.get("repeat_spread") is not None]
    load = [r["load_after"][0] for r in records if r.get("load_after")]
    parts = []
    if cont:
        parts.append(f"contention {min(cont):.2f}" + (f"-{max(cont):.2f}" if max(cont) > min(cont) else ""))
    if busy:
        parts.append(f"other processes used {max(busy):.0%} of the CPUs at most")
    if load:
        parts.append(f"load {max(load):.1f}")
    if spread:
        parts.append(f"repeat spread {max(spread):.0%}")
    return f"machine during {side} ({len(records)} run{'s' if len(records) > 1 else ''}): " + ", ".join(parts)


@dataclass
class Side:
    """One side of a comparison, reshaped: what ``compare_values`` judges."""

    manifest: dict
    ok: set[str]                       # workloads with samples that did not fail
    failed: set[str]                   # workloads the manifest marks as failed
    values: dict                       # per-sample values per (workload, component, axis, category)
    shares: dict
    kinds: dict
    rounds: list[dict] = field(default_factory=list)   # per A/B round, the same values (merged runs)
    has_rounds: bool = False           # samples.csv has a ``round`` column (a merged A/B run)


def side_of(manifest: dict, samples: pd.DataFrame, settings: CompareSettings) -> Side:
    """A loaded run (manifest, samples.csv) reshaped into per-sample values."""
    ok, failed = runs.ok_workloads(manifest, samples)
    values, shares, kinds = per_sample_values(samples, settings.axes, ok)
    rounds = per_round_values(samples, settings.axes, ok) if settings.round_check else []
    return Side(manifest, ok, failed, values, shares, kinds, rounds, "round" in samples.columns)


def compare_frames(base: tuple[dict, pd.DataFrame], new: tuple[dict, pd.DataFrame],
                   settings: CompareSettings | None = None, base_name: str = "base", new_name: str = "new"
                   ) -> Comparison:
    """The comparison of two loaded runs, each ``(manifest, samples)``: what ``compare_runs`` does
    after loading and the fingerprint check."""
    settings = settings or CompareSettings()
    return compare_values(side_of(*base, settings), side_of(*new, settings), settings, base_name, new_name)


def single_run_drift(bv: dict, nv: dict, keys: list, settings: CompareSettings) -> dict[str, tuple[float, str]]:
    """How much two single runs differ as a whole (``verdicts.run_drift``), per workload, and the
    note that says so where it is beyond the threshold ('' otherwise). Workloads run one after
    another, so a slow spell of the machine can cover one of them: a workload is measured by its
    own components, or, with only one, by every component of the comparison; the suite's total by
    the workloads' drifts weighted by their times."""
    stat = statistic(settings)
    ratios: dict[str, list[float]] = {}
    for k in keys:
        if k[0] != SUITE and k[1] != ALL and k[3] == TOTAL and len(bv.get(k, ())) and len(nv.get(k, ())):
            b = float(stat(bv[k]))
            if b > 0:
                ratios.setdefault(k[0], []).append(float(stat(nv[k])) / b)
    every = [r for rs in ratios.values() for r in rs]
    whole = run_drift(every)
    out: dict[str, tuple[float, str]] = {}
    for wl, rs in ratios.items():
        k, where = run_drift(rs), _components(f"{wl}'s", len(rs))
        if k is None:
            k, where = whole, _components("the comparison's", len(every))
        if k is not None:
            out[wl] = (k, _drift_note(k, where, settings))
    # the suite's total is the sum of the workloads' totals: what their drifts predict for it
    weights = {wl: float(stat(bv[(wl, ALL, "category", TOTAL)])) for wl in ratios
               if len(bv.get((wl, ALL, "category", TOTAL), ()))}
    if out and sum(weights.values()) > 0:   # (a workload with no estimate counts as undrifted)
        k = sum(w * out.get(wl, (1.0, ""))[0] for wl, w in weights.items()) / sum(weights.values())
        out[SUITE] = (k, _drift_note(k, f"its {len(weights)} workloads (each workload's drift, weighted by its time)",
                                     settings))
    return out


def _components(owner: str, n: int) -> str:
    return f"the median of {owner} {n} components" if n > 2 else f"both of {owner} components"


def _drift_note(k: float, where: str, settings: CompareSettings) -> str:
    if not beyond_threshold(k, settings):
        return ""
    return (f"the new run took {k:.2f}x the base's time in {where}: the single runs differ as a "
            "whole (a slower machine or a noisy neighbour) by more than the threshold, so a change that much "
            "could explain is inconclusive; use same-job A/B (ab, compare --refs)")


def _round_pairs(keys: list, b_rounds: list[dict], n_rounds: list[dict]) -> dict:
    """Each row's change per round pair (``stats.round_changes``), for the rows whose rounds pair:
    every round of both sides holds the row, as many samples a side, every time positive."""
    empty = np.zeros(0)
    pairs = {}
    for key in keys:
        changes = round_changes([r.get(key, empty) for r in b_rounds], [r.get(key, empty) for r in n_rounds])
        if changes is not None:
            pairs[key] = changes
    return pairs


def compare_values(bside: Side, nside: Side, settings: CompareSettings, base_name: str = "base", new_name: str = "new"
                   ) -> Comparison:
    """Every row judged: the verdict, the round check, the machine contention and whole-run drift
    checks of single runs, and whether the data can decide at all. The power study (benchmarks/gate_power.py) calls this
    on sides assembled from measured runs, so it measures exactly the gate's decision."""
    bm, nm = bside.manifest, nside.manifest
    cmp = Comparison(base=base_name, new=new_name, settings=settings, rows=[],
                     base_commit=bm.get("git_commit"), new_commit=nm.get("git_commit"))
    cmp.machine = {"base": machine_records(bm), "new": machine_records(nm)}
    for side, recs in cmp.machine.items():
        line = machine_note(side, recs)
        if line:
            cmp.notes.append(line)

    b_ok, b_failed, n_ok, n_failed = bside.ok, bside.failed, nside.ok, nside.failed
    for w in sorted(b_failed):
        cmp.notes.append(f"workload {w} failed in the base run; not compared")
    bv, bsh, nv, nsh = bside.values, bside.shares, nside.values, nside.shares
    kinds = {**nside.kinds, **bside.kinds}
    b_rounds, n_rounds = (bside.rounds, nside.rounds) if settings.round_check else ([], [])
    if len(b_rounds) >= 2 and len(n_rounds) >= 2:
        cmp.notes.append(f"A/B rounds: base {len(b_rounds)}, new {len(n_rounds)}; a change must be significant "
                         "with the samples grouped by round, and the noise band counts the drift between rounds")
    else:
        b_rounds = n_rounds = []
    single = not bside.has_rounds and not nside.has_rounds
    k_by_wl: dict[str, tuple[float, float]] = {}   # workload -> (base, new) CPU contention, single runs
    if single:
        for wl in b_ok & n_ok:
            cb, cn = contention(bm, wl), contention(nm, wl)
            if cb and cn:
                k_by_wl[wl] = (cb, cn)
        if len(k_by_wl) == len(b_ok & n_ok) and k_by_wl:
            cb, cn = (bm.get("machine") or {}).get("contention"), (nm.get("machine") or {}).get("contention")
            if cb and cn:
                k_by_wl[SUITE] = (cb, cn)

    for wl in sorted(b_ok - n_ok):
        why = "failed" if wl in n_failed else "is absent"
        cmp.rows.append(missing_row(wl, bv, "missing", f"workload {why} in the new run"))
    for wl in sorted(n_ok - b_ok - b_failed):
        cmp.rows.append(missing_row(wl, nv, "added", "workload is new in this run"))

    # A component of a workload both runs have, measured on one side only (renamed, dropped, or a
    # trace file named after its run): one missing or added row, as for a workload, and no category
    # rows that would call its time "within noise" against nothing.
    one_sided = _one_sided_components(bv, nv, b_ok & n_ok)
    for (wl, comp), verdict in sorted(one_sided.items()):
        cmp.rows.append(missing_row(wl, bv if verdict == "missing" else nv, verdict,
                                    "component is absent in the new run" if verdict == "missing"
                                    else "component is new in this run", component=comp))
    for wl in sorted({wl for wl, _c in one_sided}):
        gone = sorted(c for (w, c), v in one_sided.items() if w == wl and v == "missing")
        new = sorted(c for (w, c), v in one_sided.items() if w == wl and v == "added")
        cmp.notes.append(f"workload {wl}: its total compares different components ("
                         + "; ".join(part for part in (gone and f"only in the base: {', '.join(gone)}",
                                                       new and f"only in the new run: {', '.join(new)}") if part)
                         + ")")
    keys = [k for k in bv if k in nv]
    keys += [k for k in nv if k not in bv and k[0] in b_ok and k[0] != SUITE]
    keys += [k for k in bv if k not in nv and k[0] in n_ok and k[0] != SUITE]
    keys = [k for k in keys if k[:2] not in one_sided]
    for k in keys:
        if k in bv and k in nv and k[1] == ALL and k[3] == TOTAL:
            cmp.min_p = max(cmp.min_p, min_one_sided_p(len(bv[k]), len(nv[k])))
    drift = single_run_drift(bv, nv, keys, settings) if single else {}
    # Paired rounds (compare.paired): each row's round-pair changes, computed once, and the prior
    # their round-to-round variances share (stats.shared_prior).
    pairs = _round_pairs(keys, b_rounds, n_rounds) if b_rounds and settings.paired else {}
    prior = shared_prior([float(np.var(c, ddof=1)) for c in pairs.values()], [float(len(c) - 1) for c in pairs.values()])
    cmp.notes.extend(dict.fromkeys(note for _k, note in drift.values() if note))
    for key in keys:
        b = bv.get(key, np.zeros(0))
        n = nv.get(key, np.zeros(0))
        if key[3] != TOTAL and not np.any(b) and not np.any(n):
            continue   # a category neither run ever spent time in
        row = judge(key, b, n, bsh.get(key), nsh.get(key), kinds.get(key[:2], ""), settings)
        if b_rounds:
            round_check(row, [r.get(key) for r in b_rounds], [r.get(key) for r in n_rounds], settings,
                        pairs.get(key), prior)
        if key[0] in k_by_wl:
            contention_check(row, *k_by_wl[key[0]], settings)
        if key[0] in drift and row.verdict != "inconclusive":
            shift_check(row, *drift[key[0]], settings, uneven=True)
        decide(row, settings)
        cmp.rows.append(row)
    if set(b_ok) != set(n_ok) and any(k[0] == SUITE for k in keys):
        cmp.notes.append("suite total compares different workload sets")
    paired = sum(r.test == "paired" for r in cmp.rows)
    if paired:
        shared = (f"their round-to-round variances share a prior worth {prior.dof:.0f} degrees of freedom, from "
                  f"{prior.rows} rows (empirical Bayes)" if prior.rows else
                  "too few rows vary to share a prior: each row's own round pairs set its variance")
        cmp.notes.append(f"paired rounds: {paired} of {len(cmp.rows)} rows test the change of each round pair (both "
                         f"sides ran the same samples); {shared}")
    tests = sorted({r.test for r in cmp.rows if r.test})
    if settings.test == "auto" and "welch" in tests:
        cmp.notes.append(f"test auto: Welch's t on log times where fewer samples than Mann-Whitney needs to "
                         f"reach alpha={settings.alpha_look:g}")
    if settings.looks > 1:
        which = f"look {settings.look}" if settings.look is not None else "this look"
        cmp.notes.append(f"sequential: alpha {settings.alpha:g} split over up to {settings.looks} looks, "
                         f"{LAST_LOOK_SHARE:.0%} of it at the last ({which} at {settings.alpha_look:.2g}; "
                         f"weighted Bonferroni), and so is the {PASS_ERROR:.0%} a threshold-sized change may pass "
                         f"({which}: {settings.pass_level:.2g})")
    cmp.rows.sort(key=row_order)
    return cmp


def _one_sided_components(bv: dict, nv: dict, both: set[str]) -> dict[tuple[str, str], str]:
    """(workload, component) -> 'missing' or 'added', for the components of workloads both runs
    have that only one run measured (it has a total row for them with samples)."""
    def measured(values: dict) -> set[tuple[str, str]]:
        return {k[:2] for k, v in values.items() if k[0] in both and k[1] != ALL and k[3] == TOTAL and len(v)}
    in_base, in_new = measured(bv), measured(nv)
    return {**{c: "missing" for c in in_base - in_new}, **{c: "added" for c in in_new - in_base}}
