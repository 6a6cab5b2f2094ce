"""The Python API: run a config or a model, report, import traces, compare and gate, from a
notebook or a script.

The command line (nscharacterize/cli.py) is a thin layer over these functions: it parses
arguments, calls one of them and prints what it returns. Each returns a typed result that names
the run directory and opens its tables as DataFrames (``result.breakdown``, ``result.events``);
bad input raises a ``UserError`` (one line: file, key, what, fix), as it does for the CLI.
Example: docs/api.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from nscharacterize.rundir import store
from nscharacterize.rundir.manifest import Manifest, mark_killed
from nscharacterize.rundir.store import RunDir, RunDirError, effective_status, is_sweep_dir

__all__ = ["Run", "Report", "run", "run_model", "report", "import_traces", "compare", "baseline_gate"]


@dataclass
class Run:
    """A run directory, and what the call that wrote it has to say. The tables are read from
    the directory each time they are asked for, checked against their schemas."""

    path: Path
    failed: list[str] = field(default_factory=list)   # workloads that failed (their tracebacks: run.log)
    errors: dict[str, str] = field(default_factory=dict)   # failed workload -> its one-line error
    notes: list[str] = field(default_factory=list)    # one line each: what could not be measured, and why

    @property
    def dir(self) -> RunDir:
        return RunDir(self.path)

    @property
    def manifest(self) -> Manifest:
        """manifest.json, checked and typed (``nscharacterize.rundir.manifest.Manifest``)."""
        return self.dir.read_manifest()

    @property
    def status(self) -> str:
        """As the manifest says, except ``killed`` for a run whose writer is gone."""
        return effective_status(self.dir.manifest)

    @property
    def breakdown(self) -> pd.DataFrame:
        return self.dir.breakdown()

    @property
    def samples(self) -> pd.DataFrame:
        return self.dir.samples()

    @property
    def events(self) -> pd.DataFrame:
        return self.dir.events()

    @property
    def timings(self) -> pd.DataFrame:
        return self.dir.timings()

    @property
    def checks(self) -> pd.DataFrame:
        return self.dir.checks()

    @property
    def system(self) -> pd.DataFrame:
        return self.dir.system()

    @property
    def roofline(self) -> pd.DataFrame:
        return self.dir.roofline()

    @property
    def table(self) -> str:
        """table.md: the breakdown and the rest of the report as Markdown."""
        return (self.path / store.TABLE).read_text(encoding="utf-8")


@dataclass
class Report(Run):
    """What ``report`` did to a run directory (or a sweep directory)."""

    written: list[Path] = field(default_factory=list)   # nothing when the run is still being written
    sweep: bool = False                                  # a sweep directory (its tables: scaling.csv)


def run(config: str | Path | dict | Any, *, device: str | None = None, out: str | Path | None = None,
        samples: int | None = None, trace: bool = False, nvtx: bool = False, png: bool = False,
        progress=None) -> Run:
    """Profiles the workloads of ``config``: a YAML file, a dict with the same keys, or a loaded
    ``nscharacterize.config.Config``. ``device``, ``out`` and ``samples`` override the config;
    ``trace`` keeps Chrome traces, ``nvtx`` marks components with NVTX ranges and ``png`` also
    writes the figures as PNG files (as ``profiler.chrome_trace``, ``profiler.nvtx`` and
    ``report.png``)."""
    from nscharacterize.config import Config, config_from_dict, load_config
    from nscharacterize.pipeline import check_device, run as run_pipeline

    if isinstance(config, Config):
        loaded, source = config, "<config>"
    elif isinstance(config, dict):
        loaded, source = config_from_dict(config), "<dict>"
    else:
        loaded, source = load_config(config), str(config)
    if nvtx:
        loaded = loaded.model_copy(update={"profiler": loaded.profiler.model_copy(update={"nvtx": True})})
    if png:
        loaded = loaded.model_copy(update={"report": loaded.report.model_copy(update={"png": True})})
    if device:
        check_device(device, None, "--device")
    outcome = run_pipeline(loaded, source, device=device, out=str(out) if out is not None else None,
                           samples=samples, trace=trace, progress=progress)
    return Run(outcome.run.path, list(outcome.failed), dict(outcome.errors), list(outcome.notes))


def run_model(model, make_input: Callable[..., Any], *, name: str = "model", samples: int = 3,
              warmup: int = 1, repeats: int = 3, device: str = "cpu", out: str | Path = "runs",
              seed: int = 0, trace: bool = False, progress=None) -> Run:
    """Profiles one ``torch.nn.Module`` as a single neural component; ``make_input(i)`` returns the
    input of sample ``i`` (or takes no argument). The run directory is like any other, except that
    its config.yaml names an in-process workload, which ``nscharacterize run`` cannot re-run."""
    from nscharacterize.workloads import registry

    ref = registry.register_local(name, lambda: (model, make_input))
    config = {"name": name, "seed": seed, "device": device, "samples": samples, "warmup": warmup,
              "repeats": repeats, "output": str(out), "workloads": [{"workload": ref, "name": name}]}
    try:
        return run(config, trace=trace, progress=progress)
    finally:
        registry.forget_local(ref)


def report(run_dir: str | Path, *, reclassify: bool = False, png: bool = False) -> Report:
    """Re-renders a run directory (or a sweep directory) from its saved files.

    A run whose process was killed (SIGKILL, the OOM killer) is marked ``killed`` and every
    derived table is rebuilt from its saved events and timings. A run still being written is
    left alone (two writers would race): nothing is written, and ``reclassify`` is refused.
    ``reclassify`` re-classifies the saved events with the current rules (and the extra rule
    files its config names) before rendering. ``png`` also draws the figures as PNG files, as
    does a run whose config asked for them (``report.png``) or that has them already (redrawn, so
    that none is left out of date)."""
    from nscharacterize.reports.run_report import render, stale_pngs
    from nscharacterize.results import reclassify as reclassify_run, refresh_views, save_results, view_events

    if is_sweep_dir(run_dir):
        from nscharacterize.sweep import report_sweep

        return Report(Path(run_dir), written=list(report_sweep(run_dir)), sweep=True)
    if Path(run_dir).is_file():
        raise RunDirError(run_dir, "", "is a file, not a run directory",
                          "give the folder a run wrote (the last line `run` prints); to run a config: "
                          "nscharacterize run FILE")
    rd = RunDir(run_dir)
    manifest = rd.manifest   # validates the directory before anything is rewritten
    status = effective_status(manifest)
    notes: list[str] = []
    if status == "running":         # another process owns the files: show, never write
        if reclassify:
            raise RunDirError(rd.path / store.MANIFEST, "status", f"the run is still being written (pid "
                              f"{manifest.get('pid')})", "wait for it to finish, or stop it, then reclassify")
        return Report(rd.path, notes=[f"the run is still being written (pid {manifest.get('pid')}); the table "
                                      "shows what has finished so far; nothing was rewritten"])
    if status != "killed":          # read last by the page, refused (if damaged) before anything is rewritten
        rd.checks()
    events = None
    if status == "killed":          # its process died mid-write: rebuild every derived table from the raw rows
        events, timings = _killed_rows(rd, notes)
        killed = mark_killed(rd.read_manifest(), rd.config)
        for w in killed.workloads:
            if w.status == "killed":
                w.samples_done = int(timings.loc[timings["workload"] == w.name, "sample"].nunique())
        views = save_results(rd, events, timings, killed).views
        rd.drop_logs()   # its rows are in events.parquet and timings.csv now
        _clear_spool(rd)
        saved = len(timings[["workload", "sample"]].drop_duplicates())
        notes.append(f"the run's process (pid {manifest.get('pid')}) is gone: marked killed; "
                     f"tables rebuilt from its {saved} saved samples")
    if reclassify:
        from nscharacterize.taxonomy.classifier import Taxonomy

        events = None
        views = reclassify_run(rd, Taxonomy(saved_rules(rd))).views
    elif status != "killed":
        events = view_events(rd)   # read once, summed over samples as read: the roofline and the page
        views = refresh_views(rd, events)
    written = [rd.path / store.SYSTEM] + ([rd.path / store.ROOFLINE] if views.roofline is not None else [])
    png = png or bool(((rd.config or {}).get("report") or {}).get("png")) or bool(stale_pngs(rd))
    return Report(rd.path, notes=notes, written=written + render(rd, views, events, png=png))


def _killed_rows(run_dir: RunDir, notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The saved events and timings of a killed run, with the samples it finished but had not
    parsed yet (its spool: nscharacterize/profiler/spool.py), classified by the run's own rules.
    A spool that cannot be read is left out, and ``notes`` says so."""
    from nscharacterize.pipeline import recover_spool
    from nscharacterize.taxonomy.classifier import Taxonomy

    events, timings = run_dir.events(), run_dir.timings()
    try:
        more_events, more_timings = recover_spool(run_dir, Taxonomy(saved_rules(run_dir)), timings)
    except Exception as exc:   # a damaged spool must not cost the samples already saved
        notes.append(f"{run_dir.path / 'spool'}: its unsaved samples could not be read "
                     f"({type(exc).__name__}: {str(exc)[:120]}); they are left out")
        return events, timings
    if len(more_timings):
        if len(events):
            events = pd.concat([events, more_events[[c for c in events.columns if c in more_events]]],
                               ignore_index=True)
        else:
            events = more_events
        timings = pd.concat([timings, more_timings], ignore_index=True) if len(timings) else more_timings
    return events, timings


def _clear_spool(run_dir: RunDir) -> None:
    from nscharacterize.profiler.spool import Spool

    Spool(run_dir.path / store.SPOOL).clear()


def saved_rules(run_dir: RunDir) -> dict:
    """The extra rule files the run was classified with (its config.yaml's taxonomy.rules)."""
    from nscharacterize.taxonomy.rules import NAMESPACES

    section = run_dir.config.get("taxonomy") or {}
    rules = section.get("rules") if isinstance(section, dict) else section
    rules = rules or {}
    if not (isinstance(rules, dict) and all(ns in NAMESPACES and isinstance(files, list)
                                            and all(isinstance(f, str) for f in files)
                                            for ns, files in rules.items())):
        raise RunDirError(run_dir.path / store.CONFIG, "taxonomy.rules", "must map a name space "
                          f"({', '.join(NAMESPACES)}) to a list of rule files", "re-run or re-copy the run")
    return rules


def import_traces(paths: Sequence[str | Path], *, out: str | Path = "runs", name: str = "import",
                  warmup_steps: int | None = None, png: bool = False,
                  rules: Mapping[str, Sequence[str | Path]] | None = None) -> Run:
    """Classifies and attributes torch.profiler Chrome traces (.json, .json.gz) into a run
    directory. ``warmup_steps``: ProfilerStep ranges left out at the start of each trace (default
    as the CLI's ``--warmup-steps``); ``png``: also the figures as PNG files; ``rules``: your own
    rule files per name space (``{"kernels": ["my_kernels.yaml"]}``), tried before the built-ins
    and kept in the run's config.yaml (``taxonomy.rules``), as a config's are."""
    from nscharacterize.import_trace import import_traces as import_files
    from nscharacterize.profiler.trace_steps import DEFAULT_WARMUP

    steps = DEFAULT_WARMUP if warmup_steps is None else warmup_steps
    if steps < 0:
        from nscharacterize.core.errors import UserError

        raise UserError(None, "--warmup-steps", f"must be 0 or more, not {steps}", "give 0 to keep every step")
    return Run(import_files([str(p) for p in paths], out=str(out), name=name, warmup_steps=steps, png=png,
                            rules=rules).path)


def compare(base: str | Path, new: str | Path, *, settings: str | Path | None = None,
            allow_env_change: bool = False, option_names: dict[str, str] | None = None, **thresholds):
    """Compares two saved runs per category (``nscharacterize compare BASE NEW``). ``thresholds``
    are ``compare:`` keys (rel_threshold, abs_floor_s, alpha, test, ...), above the new run's
    config and the ``settings`` file. Returns the gate's ``Comparison``: ``.rows`` (``.table`` as
    a DataFrame) and ``.exit_code`` (1 on a regression, 3 when the evidence does not decide).
    ``option_names``: what a bad threshold is called in its error (the CLI's ``--rel-threshold``;
    by default ``rel_threshold=``)."""
    from nscharacterize.gate import settings as gate_settings
    from nscharacterize.gate.compare import compare_runs

    names = option_names or {}
    options = {k: (names.get(k, f"{k}="), v) for k, v in thresholds.items()}
    chosen = gate_settings.for_run(new, settings, options)
    return compare_runs(base, new, chosen, allow_env_change=allow_env_change)


def baseline_gate(new: str | Path, baseline: str, *, store: str | Path | None = None, **kwargs):
    """The regression gate: a run against a saved baseline (``compare --baseline NAME NEW``);
    ``.exit_code`` is what a CI job exits with. (Not ``gate``: that is the stage package's name.)"""
    from nscharacterize.gate import baselines
    from nscharacterize.gate.settings import DEFAULT_STORE

    return compare(baselines.path(baseline, store or DEFAULT_STORE), new, **kwargs)
