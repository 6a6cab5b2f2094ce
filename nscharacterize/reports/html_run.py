"""report.html of a run directory: every table, the figures, the measurement facts, the
environment and the classification of each op, on one page that opens offline.

Reads only the run directory (``store.RunDir``), like every report, so ``nscharacterize report``
re-renders it from saved files. The breakdown is rendered axis by axis from ``breakdown.csv``:
an axis this module has never heard of (a new view another stage adds) still gets its table and
its figure, labelled with the category names as written. The reasons of the rules come from the
rule files the run's config names (the built-in ones plus its ``taxonomy.rules``), looked up by
the rule id that ``events.parquet`` stores for every op.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pandas as pd

from nscharacterize.attribution.derive import Views
from nscharacterize.core.errors import UserError
from nscharacterize.taxonomy.categories import (
    CATEGORIES, COLORS, LABELS, OTHER_SPLIT, OTHER_SPLIT_LABELS, PY_CATEGORIES, PY_COLORS, PY_LABELS)

from nscharacterize.rundir import store
from . import metrics_report, page_figures
from .format import fmt_bytes, fmt_device, fmt_time
from .tables import first_pivot
from .html import Section, esc, facts, figure, paragraph, pre, render_page, table, write_page
from nscharacterize.rundir.store import RunDir, SavedTables

# What is known about the axes of breakdown.csv; any other axis is rendered with its own names.
AXIS_ORDER = {"category": CATEGORIES, "other_split": OTHER_SPLIT, "python": PY_CATEGORIES}
AXIS_LABELS = {"category": LABELS, "other_split": OTHER_SPLIT_LABELS, "python": PY_LABELS}
AXIS_COLORS = {"category": COLORS, "python": PY_COLORS}
AXIS_TITLES = {
    "category": ("Runtime by operator category", "Where does each component's time go, by the study's "
                 "eight operator categories plus Other (Table III, Fig. 6)? Mean per sample; the "
                 "categories add up to the unprofiled wall time."),
    "other_split": ("What Other holds", "How much of Other is ops a rule sends there on purpose, ops no "
                    "rule matched, and time outside any op (Python, framework, idle)?"),
    "python": ("Python functions", "What does pure-Python code spend its time on: feature query, arithmetic, "
               "program control, parsing/IO (Fig. 7)? Functions of cProfile components, and an imported "
               "trace's Python stack events where no op ran."),
}
SKIP_AXES = {"total"}   # the component total: a column of the runtime table, not a view of its own
LOG_TAIL_LINES = 400


def write_run_report(run: RunDir, views: Views, events: pd.DataFrame | None = None,
                     saved: SavedTables | None = None) -> Path:
    """Renders the run's page and writes ``report.html`` into the run directory. ``views``: what
    ``attribution.derive`` derived for the run; ``events`` and ``saved`` (breakdown, timings and
    checks): the run's, when the caller has read them already, else read here."""
    return write_page(run.path / store.REPORT_HTML, run_page(run, views, events, saved))


def run_page(run: RunDir, views: Views, events: pd.DataFrame | None = None, saved: SavedTables | None = None) -> str:
    manifest = run.manifest
    breakdown, timings, checks = saved or run.saved_tables()
    fp = manifest.get("fingerprint") or {}
    subtitle = (f"{manifest.get('status', '?')} run of {len(manifest.get('workloads', []))} workload(s) on "
                f"{fmt_device(fp)} ({fp.get('device_name') or fp.get('cpu_model') or '?'}), "
                f"{manifest.get('created', '?')}")
    sections = [_overview(run, manifest, breakdown, checks)]
    if not breakdown.empty:   # the headline first: how long a sample takes, neural against symbolic
        sections.append(_end_to_end(views, timings))
    sections += _breakdown_sections(breakdown)
    if not breakdown.empty:
        sections.append(_roofline(run, manifest))
    beyond_time = metrics_report.html_section(run)
    if beyond_time is not None:
        sections.append(beyond_time)
    sections.append(_measurement(timings, checks, manifest))
    sections.append(_workloads(manifest))
    sections.append(_classification(run, manifest, timings, events))
    sections.append(_environment(run, manifest))
    more = _other_figures(run)
    if more is not None:
        sections.append(more)
    sections.append(_data_files(run, breakdown, timings, checks))
    sections += _traces_and_log(run)
    return render_page(f"nscharacterize: {manifest.get('name', run.path.name)}", subtitle, sections)


# ---- sections ------------------------------------------------------------------------------------
def _overview(run: RunDir, manifest: dict, breakdown: pd.DataFrame, checks: pd.DataFrame) -> Section:
    sec = Section("overview", "Overview", "What ran, did it finish, and do the numbers add up?")
    summary = manifest.get("checks") or {}
    sec.add(facts([
        ("run directory", run.path.name), ("status", manifest.get("status")),
        ("workloads", ", ".join(f"{w.get('name')} ({w.get('status')})" for w in manifest.get("workloads", []))),
        ("created", manifest.get("created")), ("finished", manifest.get("finished")),
        ("command", " ".join(manifest.get("command") or [])), ("git commit", manifest.get("git_commit")),
        ("seed", manifest.get("seed")), ("samples per workload", manifest.get("samples")),
        ("warm-up passes", manifest.get("warmup")), ("unprofiled repeats per sample", manifest.get("repeats")),
        ("categories add up to wall time", summary.get("addup_ok")),
        ("largest relative add-up error", summary.get("max_addup_rel_error")),
        ("event rows", summary.get("event_rows")),
    ]))
    for note in manifest.get("notes") or []:
        sec.add(f'<p class="bad">note: {esc(note)}</p>')
    failed = [w for w in manifest.get("workloads", []) if w.get("status") != "ok"]
    for w in failed:
        sec.add(f'<p class="bad">{esc(w.get("name"))}: {esc(w.get("status"))}: {esc(w.get("error"))} '
                f"(traceback in {store.LOG})</p>")
    if breakdown.empty:
        sec.add(paragraph("No workload produced results, so there are no tables or figures below."))
    return sec


def _end_to_end(views: Views, timings: pd.DataFrame) -> Section:
    """The study's headline per workload: latency per sample, neural against symbolic time and
    their ratio, each component's share, and the category mix within each side (system.csv)."""
    from nscharacterize.attribution.system import SIDES

    sec = Section("end-to-end", "End to end: neural vs symbolic", "How long does a sample take end to end, "
                  "and how much of it is neural and how much symbolic? Components run in sequence, so the "
                  "latency is the sum of their unprofiled wall times; neural and symbolic are the components' "
                  "kinds, whichever profiler measured them.")
    system = views.system
    if system.empty:
        return sec.add(paragraph("No samples: nothing to add up."))
    split = views.sides
    comps = system[(system["scope"] == "component")]
    kinds = timings.groupby(["workload", "component"], sort=False)["kind"].first()
    for r in split.itertuples():
        if r.neural_s + r.symbolic_s <= 0:   # e.g. an imported trace: its components have no role
            roles = sorted({str(k) for (w, _c), k in kinds.items() if w == r.workload})
            sec.add(f'<p class="headline"><b>{esc(r.workload)}</b>: {esc(fmt_time(r.end_to_end_s))} per sample end '
                    f"to end. Its components have no neural or symbolic role (kind: {esc(', '.join(roles))}), "
                    "so there is no neural : symbolic split: an imported trace does not record which part of "
                    "the program is which.</p>")
            continue
        ratio = (f"neural : symbolic = {r.neural_s / r.symbolic_s:.2f} : 1" if r.symbolic_s > 0 and r.neural_s > 0
                 else "no symbolic component" if r.neural_s > 0 else "no neural component")
        sec.add(f'<p class="headline"><b>{esc(r.workload)}</b>: {esc(fmt_time(r.end_to_end_s))} per sample end to end '
                f"(std {esc(fmt_time(r.std_s))}); neural {esc(fmt_time(r.neural_s))} ({100 * r.neural_share:.1f}%), "
                f"symbolic {esc(fmt_time(r.symbolic_s))} ({100 * r.symbolic_share:.1f}%); {esc(ratio)}.</p>")
    side = system[(system["scope"] == "side") & (system["category"] != "total")]
    times = first_pivot(side, ["workload", "group"], list(CATEGORIES), "time_s")
    times = times[times.sum(axis=1) > 0]
    if not times.empty:
        times = times.reindex([k for k in times.index if k[1] in SIDES])
        e2e = split.set_index("workload")["end_to_end_s"]
        shares = times.div([e2e.get(w, 0.0) or 1.0 for w, _g in times.index], axis=0)
        sec.add(figure(page_figures.stacked(times, shares, LABELS, COLORS, "End to end: time per sample by side "
                                            "and category", share_of="of end to end"),
                       height=page_figures.bars_height(len(times))))
    nan = float("nan")
    table_ = pd.DataFrame([{"workload": r.workload, "end to end (ms)": r.end_to_end_s * 1e3,
                            "std (ms)": r.std_s * 1e3,
                            **({"neural (ms)": nan, "symbolic (ms)": nan, "neural (%)": nan, "symbolic (%)": nan}
                               if r.neural_s + r.symbolic_s <= 0 else   # no roles: not "0 and 0"
                               {"neural (ms)": r.neural_s * 1e3, "symbolic (ms)": r.symbolic_s * 1e3,
                                "neural (%)": 100 * r.neural_share, "symbolic (%)": 100 * r.symbolic_share}),
                            "neural : symbolic": (f"{r.neural_s / r.symbolic_s:.2f} : 1" if r.symbolic_s > 0
                                                  else "-")} for r in split.itertuples()])
    sec.add(table(table_, "End to end per workload"))
    comp = pd.DataFrame({"workload": comps["workload"], "component": comps["group"],
                         "kind": [kinds.get((w, c), "") for w, c in zip(comps["workload"], comps["group"])],
                         "time (ms)": comps["time_s"] * 1e3, "share of end to end (%)": comps["share"] * 100})
    return sec.add(table(comp, "Each component's share of the end-to-end time"))


def _roofline(run: RunDir, manifest: dict) -> Section:
    """roofline.csv as a table, the ceilings it is measured against, and the roofline figure."""
    from .roofline_report import ceilings_line

    sec = Section("roofline", "Roofline", "How close does each component's work come to what the machine "
                  "allows? Work (FLOPs, bytes) from the op cost model against the time taken and the machine's "
                  "ceilings.")
    sec.add(paragraph(ceilings_line(manifest.get("ceilings"), manifest)))
    path = run.path / store.ROOFLINE
    if not path.is_file():
        return sec.add(paragraph(f"{store.ROOFLINE} is not in this run directory (it is written from "
                                 f"{store.EVENTS} by `nscharacterize report`)."))
    try:
        roof = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        return sec.add(paragraph(f"{store.ROOFLINE}: cannot be read ({type(exc).__name__})"))
    if roof.empty:
        return sec.add(paragraph("No op rows to put on the roofline (no op with a known category did work "
                                 "the cost model can size)."))
    shown = pd.DataFrame({
        "workload": roof["workload"], "component": roof["component"],
        "category": [LABELS.get(c, c) for c in roof["category"]], "time (ms)": roof["time_s"] * 1e3,
        "GFLOP": roof["flops"] / 1e9, "MB": roof["bytes"] / 1e6, "FLOP/B": roof["intensity"],
        "GFLOP/s": roof["achieved_flops_s"] / 1e9, "GB/s": roof["achieved_bytes_s"] / 1e9,
        "bound GFLOP/s": roof["bound_flops_s"] / 1e9, "% of bound": roof["fraction_of_bound"] * 100,
        "bound by": roof["bound"].astype(object).where(roof["bound"].notna(), ""), "unsized (%)": roof["unsized_share"] * 100})
    sec.add(table(shown, "Per component and category, mean per sample (roofline.csv)"))
    measured = _measured_roofline(run, sec)
    fig = page_figures.roofline(roof, manifest.get("ceilings"), measured)
    if fig is not None:
        sec.add(figure(fig, height=560))
    else:   # said, not a missing figure: e.g. a trace recorded without input shapes sizes nothing
        sec.add(paragraph("No figure: no row has both work (FLOPs) and bytes to place on a log-log roofline "
                          "(a trace recorded without record_shapes has no input shapes to size its ops by)."))
    return sec


def _measured_roofline(run: RunDir, sec: Section) -> pd.DataFrame | None:
    """roofline_measured.csv (nscharacterize ncu-import), where a report was imported: its table
    added to ``sec``, and the frame returned for the figure."""
    from .roofline_report import read_measured

    meas = read_measured(run)
    if meas is None or meas.empty:
        return None
    shown = pd.DataFrame({
        "workload": meas["workload"], "component": meas["component"],
        "category": [LABELS.get(c, c) for c in meas["category"]], "kernels": meas["kernels"],
        "kernel time (ms)": meas["time_s"] * 1e3, "GFLOP": meas["flops"] / 1e9, "DRAM MB": meas["bytes"] / 1e6,
        "FLOP/B": meas["intensity"], "GFLOP/s": meas["achieved_flops_s"] / 1e9, "SM %": meas["sm_pct"],
        "via": meas["category_via"]})
    sec.add(table(shown, "Measured with Nsight Compute, per pass (roofline_measured.csv; hollow diamonds in the "
                         "figure): FLOPs are SASS add, mul and 2 x fma, without tensor-core work"))
    return meas


def _workloads(manifest: dict) -> Section:
    sec = Section("workloads", "Workloads", "Which workloads ran, with what parameters and components, how "
                  "long each took, and the facts each reports about itself.")
    rows = []
    for w in manifest.get("workloads", []):
        rows.append({"workload": w.get("name"), "built-in / factory": w.get("workload"), "status": w.get("status"),
                     "samples": w.get("samples"), "seconds": w.get("seconds"),
                     "components": ", ".join(f"{c['name']} ({c['kind']}, {c['profiler']})"
                                             for c in w.get("components") or []),
                     "params": json.dumps(w.get("params") or {}), "error": w.get("error") or "",
                     "facts": json.dumps(w.get("info") or {}, default=str)})
    return sec.add(table(pd.DataFrame(rows), "Workloads"))


def _breakdown_sections(breakdown: pd.DataFrame) -> list[Section]:
    if breakdown.empty:
        return []
    out = []
    axes = [a for a in dict.fromkeys(breakdown["axis"]) if a not in SKIP_AXES]
    axes.sort(key=lambda a: (a != "category",))  # the operator axis first, the rest as written
    totals = _wide(breakdown, "total", "time_s")
    for axis in axes:
        title, answers = AXIS_TITLES.get(axis, (f"Breakdown by {axis.replace('_', ' ')}",
                                                f"Runtime per component on the '{axis}' axis of breakdown.csv."))
        sec = Section(f"axis-{axis}", title, answers)
        times, shares = _wide(breakdown, axis, "time_s"), _wide(breakdown, axis, "share")
        labels = _labels(axis, times.columns)
        if axis == "category":   # a colour bar needs room even for one row
            sec.add(figure(page_figures.heatmap(shares, times, labels), height=max(280, 110 + 34 * len(shares))))
        sec.add(figure(_stacked(times, shares, labels, axis), height=page_figures.bars_height(len(times))))
        ms = (times * 1e3).rename(columns=lambda c: f"{labels[c]} (ms)")
        if axis == "category" and not totals.empty:
            ms["Total (ms)"] = (totals.reindex(times.index)["total"] * 1e3).to_numpy()
        sec.add(table(_keys(ms).round(4), f"{title}: mean time per sample (ms)"))
        pct = (shares * 100).rename(columns=lambda c: f"{labels[c]} (%)")
        sec.add(table(_keys(pct).round(2), f"{title}: share of the component's runtime (%)"))
        out.append(sec)
    return out


def _measurement(timings: pd.DataFrame, checks: pd.DataFrame, manifest: dict) -> Section:
    sec = Section("measurement", "Measurement", "How trustworthy is each number: how many samples, how "
                  "much they spread, how much the profiler slowed the code, whether the categories add "
                  "up, and peak memory?")
    sec.add(paragraph("Wall = median of the unprofiled repeats, averaged over samples; overhead = profiled / "
                      "unprofiled wall; add-up error = largest |sum of categories - wall| over samples; "
                      "clamped = samples whose op time had to be scaled down to the wall time."))
    if timings.empty:
        return sec.add(paragraph("No timings: no workload finished."))
    g = timings.groupby(["workload", "component"], sort=False)
    frame = g.agg(samples=("sample", "count"), wall_ms=("wall_s", "mean"), spread_std_ms=("wall_s", "std"),
                  min_ms=("wall_min_s", "min"), max_ms=("wall_max_s", "max"),
                  profiled_wall_ms=("profiled_wall_s", "mean"), overhead=("overhead", "mean"),
                  peak_mem_mib=("peak_mem_bytes", "max"))
    for col in ("wall_ms", "spread_std_ms", "min_ms", "max_ms", "profiled_wall_ms"):
        frame[col] = frame[col] * 1e3
    frame["peak_mem_mib"] = frame["peak_mem_mib"] / 2**20
    if not checks.empty:
        c = checks.groupby(["workload", "component"], sort=False)
        frame["max_addup_error_s"] = c["addup_error_s"].max()
        if "clamped" in checks.columns:
            frame["clamped_samples"] = c["clamped"].sum()
    kinds = timings.groupby(["workload", "component"], sort=False)[["kind", "profiler", "device"]].first()
    frame = kinds.join(frame).reset_index()
    sec.add(table(frame.round({c: 4 for c in frame.columns if c.endswith(("_ms", "_mib")) or c == "overhead"}),
                  "Per component"))
    unmeasured = [(w.get("name"), c.get("name"), c.get("unmeasured")) for w in manifest.get("workloads", [])
                  for c in w.get("components") or [] if c.get("unmeasured")]
    for wl, comp, why in unmeasured:
        sec.add(f'<p class="bad">{esc(wl)} / {esc(comp)}: not measured by function: {esc(why)}</p>')
    return sec


def _classification(run: RunDir, manifest: dict, timings: pd.DataFrame,
                    events: pd.DataFrame | None = None) -> Section:
    sec = Section("classification", "Classification of every op", "Which category did each op, kernel "
                  "and Python function get, by which rule, and why? Type an op's name in the name filter under "
                  "the table (or anything in the search box).")
    if events is None:
        if not (run.path / store.EVENTS).is_file() and not run.has_logs():  # only this section needs it
            return sec.add(paragraph(f"{store.EVENTS} is not in this run directory: the per-op classification "
                                     "cannot be shown."))
        events = run.events()
    if events.empty:
        return sec.add(paragraph("No events."))
    reasons, note = _rule_reasons(run)
    if note:
        sec.add(paragraph(note))
    keys = ["workload", "component", "source", "name", "category", "subcategory", "rule", "ancestors", "children"]
    keys = [k for k in keys if k in events.columns]
    frame = events.copy()
    for k in keys:
        frame[k] = frame[k].astype(str)
    values = {c: "sum" for c in ("calls", "self_cpu_us", "self_device_us", "flops", "bytes") if c in frame.columns}
    ops = frame.groupby(keys, sort=False, observed=True).agg(values).reset_index()
    samples = frame.groupby(["workload", "component"], observed=True)["sample"].nunique()
    if (frame["sample"] < 0).any():   # summed over samples as read (results.view_events): the timings count them
        counted = timings.assign(workload=timings["workload"].astype(str),
                                 component=timings["component"].astype(str)).groupby(["workload", "component"])["sample"]
        samples = counted.nunique().reindex(samples.index).fillna(samples)
    n = ops.set_index(["workload", "component"]).index.map(samples).to_numpy()
    ops.insert(len(keys), "calls_per_sample", (ops.pop("calls") / n).round(3))
    for col in [c for c in ("self_cpu_us", "self_device_us") if c in ops.columns]:
        ops[col.replace("_us", "_us_per_sample")] = (ops.pop(col) / n).round(3)
    if "self_device_us_per_sample" in ops.columns and not ops["self_device_us_per_sample"].any():
        ops = ops.drop(columns="self_device_us_per_sample")
    ops["why"] = [reasons.get(r, ("", ""))[1] if r else "no rule matches: counted as Other (unmatched)"
                  for r in ops["rule"]]
    ops["rule file"] = [reasons.get(r, ("", ""))[0] for r in ops["rule"]]
    time_col = "self_cpu_us_per_sample"
    if time_col in ops.columns:   # slowest first; ops of equal (rounded) time by their keys, so that the order
        # does not depend on the order the events were read in (`report` sums them by row group: results.view_events)
        ops = ops.sort_values([time_col, *keys], ascending=[False] + [True] * len(keys), kind="stable")
    ops = ops.rename(columns={"ancestors": "enclosing ops (outermost first)", "children": "calls ops"})
    first = ["name", "category", "subcategory", "rule", "why", "workload", "component", "source"]
    ops = ops[[c for c in first if c in ops.columns] + [c for c in ops.columns if c not in first]]
    sec.add(paragraph("One row per distinct op in its context (enclosing ops, ops it calls), summed over "
                      "input shapes and averaged over samples. Self time is profiled time, before the "
                      "scaling to the unprofiled wall time that the breakdown applies."))
    sec.add(table(ops, "Ops, their category and the rule that decided it", page_length=25))
    used = ops.groupby("rule", sort=False).agg(ops=("name", "count"), self_cpu_us_per_sample=(time_col, "sum"))
    rules = pd.DataFrame([{"rule": r, "file": reasons.get(r, ("", ""))[0], "reason": reasons.get(r, ("", ""))[1],
                           "ops matched": int(used.loc[r, "ops"]),
                           "self_cpu_us_per_sample": float(used.loc[r, "self_cpu_us_per_sample"])}
                          for r in used.index if r])
    sec.add(table(rules, "Rules that matched in this run"))
    return sec


def _environment(run: RunDir, manifest: dict) -> Section:
    sec = Section("environment", "Environment", "On what machine and software was this measured? "
                  "compare refuses runs whose fingerprints differ.")
    sec.add(facts(manifest.get("fingerprint") or {}))
    try:
        config_text = (run.path / store.CONFIG).read_text(encoding="utf-8")
    except OSError:
        config_text = "(config.yaml is missing)"
    sec.add(pre(config_text, "The resolved config (config.yaml)"))
    return sec


def _data_files(run: RunDir, breakdown, timings, checks) -> Section:
    """Every CSV file of the run directory, the known ones first: a table another stage adds to the
    run directory appears here without a change to this module."""
    sec = Section("data", "Data files", "The run directory's tables as saved: sort, filter and search them "
                  "here, or read the CSV files themselves.")
    known = {store.BREAKDOWN: breakdown, store.TIMINGS: timings, store.CHECKS: checks}
    # Regular files only: a pipe named extra.csv would block the reader for ever, a folder fail it.
    names = list(known) + [store.SAMPLES] + sorted(p.name for p in run.path.glob("*.csv")
                                                   if p.name not in known and p.name != store.SAMPLES and p.is_file())
    for name in names:
        rows = None
        if name in known:
            frame = known[name]
        elif name == store.SAMPLES:
            frame, rows = run.samples_head(DATA_FILE_ROWS)
        else:
            try:
                frame = pd.read_csv(run.path / name)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as exc:
                sec.add(paragraph(f"{name}: cannot be read ({type(exc).__name__})"))
                continue
        sec.add(f"<h3>{esc(name)}</h3>")
        rows = len(frame) if rows is None else rows
        if rows > DATA_FILE_ROWS:   # said, never silent: the file beside the page has every row
            sec.add(paragraph(f"{name} has {rows:,} rows; the first {DATA_FILE_ROWS:,} are here, every row "
                              f"is in the file itself ({name}, beside this page)."))
            frame = frame.head(DATA_FILE_ROWS)
        sec.add(table(frame, name, page_length=10))
    return sec


# Rows of a data file embedded in the page. samples.csv holds a row per sample, axis and category
# (47,000 at 1,000 samples of a small model): embedded whole, it made the page 11 MB and took most
# of the run's end (issue 23); the tables above it are per component and do not grow with samples.
DATA_FILE_ROWS = 2_000


def _other_figures(run: RunDir) -> Section | None:
    """Figures of the run directory this page does not redraw interactively (another stage's PNG,
    such as the system view), embedded as images so that the page stays one file."""
    pngs = sorted(p for p in run.path.glob("*.png") if p.name not in store.PNG_FIGURES and p.is_file())
    if not pngs:
        return None
    sec = Section("more-figures", "More figures", "The run directory's other figures, as saved.")
    for p in pngs:
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        sec.add(f"<h3>{esc(p.name)}</h3>",
                f'<img class="png" alt="{esc(p.name)}" src="data:image/png;base64,{data}">')
    return sec


def _traces_and_log(run: RunDir) -> list[Section]:
    out = []
    traces = sorted(p for p in (run.path / store.TRACES).glob("*.json*")
                    if p.is_file()) if (run.path / store.TRACES).is_dir() else []
    if traces:
        sec = Section("traces", "Chrome traces", "Where is the timeline of each profiled call? Open a trace "
                      "in Perfetto (ui.perfetto.dev), chrome://tracing or TensorBoard; .json.gz is read as is.")
        links = "".join(f'<li><a href="{store.TRACES}/{esc(p.name)}">{esc(p.name)}</a> '
                        f"({fmt_bytes(float(p.stat().st_size))})</li>" for p in traces)
        out.append(sec.add(f"<ul>{links}</ul>"))
    log = run.path / store.LOG
    if log.is_file():
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        tail = lines[-LOG_TAIL_LINES:]
        sec = Section("log", "Run log", "What happened during the run: progress, warnings of torch and the "
                      "workloads, and the traceback of any failed workload.")
        shown = f"run.log ({len(lines)} lines" + (f", the last {len(tail)} shown)" if len(tail) < len(lines) else ")")
        out.append(sec.add(pre("\n".join(tail), shown)))
    return out


# ---- helpers -------------------------------------------------------------------------------------
def _wide(breakdown: pd.DataFrame, axis: str, value: str) -> pd.DataFrame:
    """One row per (workload, component, kind), one column per category of ``axis``, in the
    known order of that axis (else as written)."""
    part = breakdown[breakdown["axis"] == axis]
    if part.empty:
        return pd.DataFrame()
    keys = ["workload", "component", "kind"] if "kind" in part.columns else ["workload", "component"]
    cats = list(dict.fromkeys(part["category"]))
    known = AXIS_ORDER.get(axis)
    if known:
        cats = [c for c in known if c in cats or axis != "python"] + [c for c in cats if c not in known]
    return first_pivot(part, keys, cats, value)


def _keys(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.reset_index()


def _labels(axis: str, cats) -> dict[str, str]:
    known = AXIS_LABELS.get(axis, {})
    return {c: known.get(c, str(c).replace("_", " ")) for c in cats}


def _rule_reasons(run: RunDir) -> tuple[dict[str, tuple[str, str]], str]:
    """rule id -> (file name, reason), from the rule files the run's config names; with a note
    when those files cannot be read now (then only the built-in rules are shown)."""
    from nscharacterize.taxonomy.classifier import Taxonomy

    note = ""
    try:
        rules = (run.config.get("taxonomy") or {}).get("rules") or {}
        taxonomy = Taxonomy(rules)
    except UserError as exc:
        taxonomy = Taxonomy()
        note = (f"The run's extra rule files cannot be read here ({exc.line()}): reasons are shown for the "
                "built-in rules only.")
    out: dict[str, tuple[str, str]] = {}
    for rules_ in taxonomy.rules.values():
        for r in rules_:
            out.setdefault(r.id, (Path(r.file).name if r.file else "", r.reason))
    return out, note


def _stacked(times: pd.DataFrame, shares: pd.DataFrame, labels: dict[str, str], axis: str) -> page_figures.Figure:
    """The time-per-sample bars of a breakdown axis, in that axis' colours and titled after it."""
    title = AXIS_TITLES.get(axis, (f"Breakdown by {axis}",))[0]
    title = f"{title}: time per sample (Fig. 6 form)" if axis == "category" else f"{title}: time per sample"
    return page_figures.stacked(times, shares, labels, AXIS_COLORS.get(axis, {}), title)
