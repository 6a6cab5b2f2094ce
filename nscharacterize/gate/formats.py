"""Renders a Comparison as a terminal table, Markdown (for a PR comment) or JSON.

Times and tables use the project's one formatter and layouts (``reports.format``), so a value
reads the same here as in a run's table.md.
"""
from __future__ import annotations

import json
import math

from nscharacterize.reports.format import fmt_time, markdown_table, text_table

from .samples import ALL, SUITE, TOTAL
from .verdicts import Comparison, Row

MARK = {"regressed": "REGRESSED", "improved": "improved", "within noise": "within noise",
        "inconclusive": "INCONCLUSIVE", "unchanged": "", "missing": "MISSING", "added": "added"}
TESTS = {"mannwhitney": "Mann-Whitney U", "welch": "Welch's t on log times", "bootstrap": "bootstrap",
         "auto": "Mann-Whitney U (Welch's t on log times below 6 samples a side)",
         "paired": "t on the round pairs' log changes, variance shrunk toward the rows' shared prior"}

_HEAD = ["workload", "component", "category", "base", "new", "ratio", "change", "noise (±)", "p", "share", "verdict"]


def fmt_delta(s: float) -> str:
    if s is None or math.isnan(s):
        return "-"
    return ("+" if s >= 0 else "-") + fmt_time(abs(s))


def fmt_ratio(r: float) -> str:
    if r is None or math.isnan(r):
        return "-"
    if math.isinf(r):
        return "new"
    return f"{r:.3f}x ({(r - 1) * 100:+.1f}%)"


def fmt_p(p: float) -> str:
    if p is None or math.isnan(p):
        return "-"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.0e}"


def _name(r: Row) -> tuple[str, str, str]:
    cat = r.category if r.axis == "category" else f"{r.axis}:{r.category}"
    comp = "total" if r.component == ALL else r.component
    wl = "SUITE" if r.workload == SUITE else r.workload
    return wl, comp, cat


def selected_rows(cmp: Comparison, show_all: bool) -> list[Row]:
    """All rows, or the interesting ones: totals plus anything not unchanged or with a share shift."""
    if show_all:
        return cmp.rows
    return [r for r in cmp.rows if r.category == TOTAL or r.verdict != "unchanged" or r.share_flag]


def _share(r: Row) -> str:
    if r.share_delta is None:
        return ""
    txt = f"{r.base_share:.1f}->{r.new_share:.1f} ({r.share_delta:+.1f} pt)"
    return txt + (" SHIFT" if r.share_flag else "")


def headline(cmp: Comparison) -> str:
    """The verdict line. A pass also counts its unchanged rows: "PASS: 0 regressed, 0 improved, 0
    within noise" alone read as if nothing had been judged (CI's A/A gate passes on 55 unchanged rows)."""
    s = cmp.summary()
    parts = [f"{s['regressed']} regressed", f"{s['improved']} improved", f"{s['within noise']} within noise"]
    if cmp.status == "PASS":
        parts.append(f"{s['unchanged']} unchanged")
    if s["inconclusive"]:
        parts.append(f"{s['inconclusive']} inconclusive")
    if s["missing"]:
        parts.append(f"{s['missing']} missing")
    if s["added"]:
        parts.append(f"{s['added']} added")
    parts.append(f"{s['share_shifts']} share shifts")
    return f"{cmp.status}: " + ", ".join(parts)


def reason_line(cmp: Comparison) -> list[str]:
    """The one line that says why an inconclusive gate is inconclusive and what to do."""
    if not cmp.count("inconclusive"):
        return []
    if cmp.exit_code == 3:
        word = "INCONCLUSIVE"
    elif cmp.exit_code != 0:   # the gate failed on a regression: these rows are undecided beside it
        word = "also inconclusive"
    else:
        word = "inconclusive (fail_on_inconclusive is off)"
    return [f"{word}: {cmp.reason()}"]


def env_lines(cmp: Comparison) -> list[str]:
    """What differs between the two runs besides their times: environment and config (text,
    markdown and the HTML page alike)."""
    lines = []
    for k, (a, b) in cmp.env_diffs.items():
        lines.append(f"environment differs (allowed): {k}: {a!r} -> {b!r}")
    for k, (a, b) in cmp.env_warnings.items():
        lines.append("note: " + (_rules_differ(a, b) if k == "rules" else
                                 f"environment differs: {k}: {_recorded(a)} -> {_recorded(b)}"))
    for d in cmp.config_diffs:
        lines.append(f"config differs: {d}")
    return lines


def _recorded(value: object) -> str:
    """A fingerprint value as the notes show it; a key a run does not have (a run of an earlier
    version, which did not record it) reads "not recorded", not None."""
    return "not recorded" if value is None else repr(value)


def _rules_differ(base: object, new: object) -> str:
    """The fingerprints' ``rules`` (taxonomy.classifier.Taxonomy.digest) differ: the categories of
    the two runs come from different rules (or one run does not say which)."""
    if base is None or new is None:
        return (f"the {'base' if base is None else 'new'} run does not record which rules classified it (an earlier "
                "version), so its categories may come from other rules than the other run's; `nscharacterize report "
                "RUN --reclassify` classifies it again with the rules installed now")
    return (f"the runs' categories come from different rules ({_recorded(base)} -> {_recorded(new)}: a rule file edited or "
            "added, or another version's built-in rules), so a category's change may be the rules', not the code's; "
            "`nscharacterize report RUN --reclassify` classifies a run again with the built-in rules installed now and "
            "its own rule files")


def _thresholds(cmp: Comparison) -> str:
    s = cmp.settings
    return (f"times are per-sample {s.statistic}s; regression = change > {s.rel_threshold * 100:g}% and > "
            f"{fmt_time(s.abs_floor_s)} per sample and "
            f"{TESTS.get(s.test, s.test)}"
            + (f" (or {TESTS['paired']}, where A/B rounds pair)" if any(r.test == "paired" for r in cmp.rows) else "")
            + f" p < {s.alpha_look:g}; "
            f"share shift = {s.share_points:g} points")


def _cells(r: Row, markdown: bool) -> list[str]:
    wl, comp, cat = _name(r)
    verdict = MARK.get(r.verdict, r.verdict)
    share = _share(r)
    if markdown:
        if r.verdict in ("regressed", "missing", "inconclusive"):
            verdict = f"**{verdict}**"
        share = share.replace(" SHIFT", " **shift**")
    elif r.note and r.verdict in ("missing", "added", "inconclusive"):
        verdict += f" ({r.note})"
    band = fmt_time(r.noise_s) if r.noise_s is not None and math.isfinite(r.noise_s) else "n/a"
    return [wl, comp, cat, fmt_time(r.base_s), fmt_time(r.new_s), fmt_ratio(r.ratio), fmt_delta(r.delta_s),
            band, fmt_p(r.p_value), share, verdict]


def render_terminal(cmp: Comparison, show_all: bool = False) -> str:
    lines = [f"base {cmp.base} ({_short(cmp.base_commit)})  ->  new {cmp.new} ({_short(cmp.new_commit)})"]
    lines += env_lines(cmp)
    lines.append(text_table(_HEAD, [_cells(r, markdown=False) for r in selected_rows(cmp, show_all)]))
    for n in cmp.notes:
        lines.append(f"note: {n}")
    lines.append(_thresholds(cmp))
    lines += reason_line(cmp)
    lines.append(headline(cmp))
    return "\n".join(lines) + "\n"


def _md_table(rows: list[Row]) -> list[str]:
    return markdown_table(_HEAD, [_cells(r, markdown=True) for r in rows]).splitlines()


def render_markdown(cmp: Comparison) -> str:
    status = {0: ":white_check_mark:", 1: ":x:", 3: ":warning:"}.get(cmp.exit_code, ":x:")
    lines = [f"### nscharacterize compare {status} {headline(cmp)}", ""]
    lines += [f"**{line}**" for line in reason_line(cmp)] + ([""] if reason_line(cmp) else [])
    lines += [
             f"Base `{_short(cmp.base_commit)}` ({cmp.base}) → new `{_short(cmp.new_commit)}` ({cmp.new}).", "",
             f"_{_thresholds(cmp)}._", ""]
    env = env_lines(cmp)
    if env:
        lines += [f"- {e}" for e in env] + [""]
    flagged = [r for r in cmp.rows if r.verdict in ("regressed", "improved", "missing", "added", "inconclusive")
               or r.share_flag]
    if flagged:
        lines += ["**Flagged**", ""] + _md_table(flagged) + [""]
    totals = [r for r in cmp.rows if r.category == TOTAL and r.component == ALL]
    if totals:
        lines += ["**Totals per workload**", ""] + _md_table(totals) + [""]
    lines += ["<details><summary>All rows</summary>", ""] + _md_table(cmp.rows) + ["", "</details>", ""]
    for n in cmp.notes:
        lines.append(f"> note: {n}")
    return "\n".join(lines) + "\n"


def render_json(cmp: Comparison) -> str:
    return json.dumps(cmp.to_dict(), indent=2, sort_keys=False) + "\n"


def _short(commit: str | None) -> str:
    return commit[:10] if commit else "no commit"
