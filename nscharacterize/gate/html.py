"""The page of ``nscharacterize compare --html FILE``: the verdict, every compared row (sortable,
filterable), a figure of the change per workload and component, and both runs' environments.

Renders a :class:`~nscharacterize.gate.verdicts.Comparison` (what ``compare`` computed) and the
manifests of the two run directories with the page blocks of ``nscharacterize/reports/html.py``; it decides
nothing itself.
"""
from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from nscharacterize.reports.format import fmt_time
from nscharacterize.reports.html import Section, esc, facts, figure, paragraph, render_page, table
from nscharacterize.rundir.store import RunDir, RunDirError

from .formats import _thresholds, env_lines, headline
from .samples import ALL, SUITE, TOTAL
from .verdicts import Comparison

VERDICT_COLORS = {"regressed": "#d62728", "improved": "#2ca02c", "within noise": "#7f7f7f", "inconclusive": "#ff7f0e",
                  "unchanged": "#aec7e8", "missing": "#9467bd", "added": "#17becf"}


def compare_page(cmp: Comparison) -> str:
    verdict = headline(cmp)
    sections = [_summary(cmp, verdict)]
    fig = _change_figure(cmp)
    if fig is not None:
        sections.append(Section("changes", "Change per component", "Which components got slower or faster, "
                                "and by more than the noise? Total runtime, new / base; hover for the values.",
                                [figure(fig, height=140 + 30 * len(fig.data[0].y))]))
    sections.append(Section("rows", "Every compared row", "Per workload, component and category: base and new "
                            "time per sample, ratio, noise band, p-value, share shift and verdict. Filter the "
                            "verdict column for 'regressed'.", [table(_rows_frame(cmp), "Comparison", page_length=50)]))
    sections.append(_environments(cmp))
    return render_page("nscharacterize compare", verdict, sections)


def _summary(cmp: Comparison, verdict: str) -> Section:
    sec = Section("verdict", "Verdict", "Did anything regress beyond the thresholds, and which settings decided?")
    css = "bad" if cmp.exit_code else ""
    sec.add(f'<p class="{css}"><strong>{esc(verdict)}</strong> (exit code {cmp.exit_code})</p>')
    if cmp.reason():
        sec.add(f'<p class="bad">{esc(cmp.reason())}</p>')
    sec.add(facts([("base", f"{cmp.base} ({cmp.base_commit or 'no commit'})"),
                   ("new", f"{cmp.new} ({cmp.new_commit or 'no commit'})"),
                   ("thresholds", _thresholds(cmp)), *cmp.summary().items()]))
    lines = env_lines(cmp) + [f"note: {n}" for n in cmp.notes]
    sec.add(*(paragraph(x) for x in lines))
    return sec


def _rows_frame(cmp: Comparison) -> pd.DataFrame:
    rows = []
    for r in cmp.rows:
        d = asdict(r)
        d["workload"] = "SUITE" if r.workload == SUITE else r.workload
        d["component"] = "total" if r.component == ALL else r.component
        d["change_pct"] = (r.ratio - 1) * 100 if r.ratio is not None and math.isfinite(r.ratio) else None
        rows.append(d)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    for col in ("base_s", "new_s", "delta_s", "noise_s"):
        frame[col.replace("_s", "_ms")] = frame.pop(col) * 1e3
    first = ["workload", "component", "axis", "category", "verdict", "base_ms", "new_ms", "change_pct", "delta_ms",
             "noise_ms", "p_value"]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    return frame.round(6)


def _change_figure(cmp: Comparison):
    import plotly.graph_objects as go

    rows = [r for r in cmp.rows if r.category == TOTAL and r.workload != SUITE and r.component != ALL
            and r.ratio is not None and math.isfinite(r.ratio)]
    if not rows:
        return None
    names = [f"{r.workload} / {r.component}" for r in rows]
    fig = go.Figure(go.Bar(
        y=names, x=[(r.ratio - 1) * 100 for r in rows], orientation="h",
        marker_color=[VERDICT_COLORS.get(r.verdict, "#7f7f7f") for r in rows],
        customdata=[(fmt_time(r.base_s), fmt_time(r.new_s), r.verdict, fmt_time(r.noise_s)) for r in rows],
        hovertemplate="%{y}<br>%{x:+.2f} %: %{customdata[0]} -> %{customdata[1]} per sample<br>noise band "
                      "±%{customdata[3]}; %{customdata[2]}<extra></extra>"))
    fig.add_vline(x=cmp.settings.rel_threshold * 100, line_dash="dot", line_color="#d62728")
    fig.update_layout(title="Total runtime per component: change, new vs base (%)", xaxis_title="change (%)",
                      yaxis=dict(autorange="reversed"), showlegend=False)
    return fig


def _environments(cmp: Comparison) -> Section:
    sec = Section("environment", "Environments", "On what machines and software were the two runs measured?")
    for side, path in (("Base", cmp.base), ("New", cmp.new)):
        try:
            fp = RunDir(Path(path)).manifest.get("fingerprint") or {}
        except RunDirError as exc:  # a baseline stored without its manifest, say
            sec.add(paragraph(f"{side}: {exc.line()}"))
            continue
        sec.add(f"<h3>{side}: {esc(path)}</h3>", facts(fp))
    return sec
