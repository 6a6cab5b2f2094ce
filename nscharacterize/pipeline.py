"""The run: config -> workloads -> profiler -> events -> taxonomy -> breakdown -> reports.

Orchestration only, and the place that makes faults lose nothing (docs/architecture.md,
"Faults"):

- Each sample's traces are written to the run's spool the moment it is measured
  (nscharacterize/profiler/spool.py); about once a second the spooled samples are parsed
  together, classified and appended to the run's append-only logs (nscharacterize/rundir/samplelog.py),
  then the manifest's ``samples_done``; no saved sample is rewritten, so each sample costs the
  same, and what the run holds in memory does not grow with its samples. Samples are
  attributed in batches; the derived tables and table.md are rewritten as the run goes, at most
  every ``_Run.REFRESH_S`` seconds (a finished workload reaches them at the next refresh); at the
  end the logs become events.parquet and timings.csv, and the figures and report.html are drawn.
- A workload that raises, or calls ``sys.exit``, fails alone: it is logged with its traceback,
  recorded in the manifest with the samples it finished, and the run goes on.
- Ctrl-C, SIGTERM and SIGHUP (turned into ``errors.Interrupted`` by the CLI) stop the run in
  order: statuses ``interrupted`` / ``not_run``, every finished sample kept, tables rendered.
- A process killed outright (SIGKILL, OOM, ``os._exit``) leaves ``status: running`` with its pid,
  which ``report`` recognises as ``killed`` and rebuilds the tables from events and timings,
  after parsing what the spool still holds (``recover_spool``).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from nscharacterize.core.errors import Interrupted, UserError
from nscharacterize.profiler import calibration, cprofile_backend
from nscharacterize.profiler.ceilings import ceiling_key, measured_ceilings
from nscharacterize.profiler.environment import fingerprint, git_commit, resolve_device
from nscharacterize.attribution.aggregate import attribute
from nscharacterize.attribution.derive import Views
from nscharacterize.profiler.events import empty_events
from nscharacterize.profiler.machine_noise import Recorder, repeat_spread
from nscharacterize.profiler.session import TIMING_COLUMNS, SessionSettings, profile_workload
from nscharacterize.profiler.spool import Spool
from nscharacterize.profiler.torch_backend import TorchSettings
from nscharacterize.profiler import opmetrics
from nscharacterize.profiler.counters import Counters
from nscharacterize.profiler.counters import probe as probe_counters
from nscharacterize.rundir import store
from nscharacterize.rundir.manifest import SCHEMA, Manifest, WorkloadRecord, not_run
from nscharacterize.reports.run_report import render, render_tables
from nscharacterize.rundir.store import RunDir
from nscharacterize.taxonomy.classifier import Taxonomy
from nscharacterize.taxonomy.rules import RuleFileError
from nscharacterize.workloads import registry
from nscharacterize.workloads.base import WorkloadError
from nscharacterize.workloads.compile import chosen_components, compile_workload, name_cpu_kernels, toolchain_problem

from .config import Config, ConfigError
from .results import add_roofline, refresh_views, save_attributed, save_results, view_events
from .quiet import stderr_to

log = logging.getLogger("nscharacterize")


@dataclass
class RunOutcome:
    run: RunDir
    breakdown: pd.DataFrame
    failed: list[str]
    notes: list[str] = field(default_factory=list)   # one line each: what could not be measured, and why
    errors: dict[str, str] = field(default_factory=dict)  # failed workload -> its one-line error (the manifest's)


def check_device(device: str, file: str | None, key: str) -> str:
    resolved = resolve_device(device)
    if resolved == "cuda" and not torch.cuda.is_available():
        raise ConfigError(file, key, "'cuda' was asked for but no CUDA GPU is visible to torch",
                          "use cpu or auto")
    return resolved


def run(config: Config, config_path: str, *, device: str | None = None, out: str | None = None,
        samples: int | None = None, trace: bool = False, progress=None) -> RunOutcome:
    device = check_device(device or config.device, None if device else config_path,
                          "--device" if device else "device")
    for i, entry in enumerate(config.workloads):
        problem = toolchain_problem(device) if entry.compile else None
        if problem:
            raise ConfigError(config_path, f"workloads[{i}].compile", *problem)
    _check_compile_components(config, config_path)
    name_cpu_kernels()   # before any workload is built: its factory may call torch.compile itself
    if config.threads:
        torch.set_num_threads(config.threads)
    taxonomy = Taxonomy(dict(config.taxonomy.rules))
    where = (None, "--out") if out else (config_path, "output")
    run_dir = RunDir.create(out or config.output, config.name or Path(config_path).stem, where)
    run_dir = RunDir(run_dir.path.absolute())  # a workload that changes directory must not move it
    handler = _attach_log(run_dir)
    try:
        with stderr_to(run_dir.path / store.LOG, handler):  # torch's and the workloads' warnings
            return _Run(config, config_path, run_dir, taxonomy, device, samples, trace, progress).execute()
    finally:
        log.removeHandler(handler)
        handler.close()


def _check_compile_components(config: Config, config_path: str) -> None:
    """Pre-flight for ``compile.components``: a workload's components exist only once it is built,
    so each entry with ``compile`` is built here (seeded as the run will build it, then dropped)
    and its selection checked, so that a wrong name is one line and exit 2 before any workload is
    measured, like every other config error. A build that fails is left to the run, which records
    it as that workload's failure with its traceback."""
    for i, entry in enumerate(config.workloads):
        if not entry.compile:
            continue
        cwd, streams = os.getcwd(), (sys.stdout, sys.stderr)
        try:
            workload = registry.build(entry.workload, entry.params, config.seed)
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 -- the run builds it again and records why it failed
            continue
        finally:
            _restore_cwd(cwd)
            _restore_streams(streams)
        try:
            chosen_components(workload, entry.compile)
        except WorkloadError as exc:
            raise exc.located(config_path, f"workloads[{i}]") from None
        finally:
            del workload


@dataclass
class _Run:
    config: Config
    config_path: str
    run_dir: RunDir
    taxonomy: Taxonomy
    device: str
    samples_override: int | None
    trace: bool
    progress: Any                    # the CLI's progress display (start, advance, finish) or None
    manifest: Manifest = field(init=False)
    failed: list = field(default_factory=list)
    saved: int = 0                                  # samples appended to the logs
    samples: list = field(default_factory=list)     # attributed: per batch of samples
    checks: list = field(default_factory=list)
    pending: list = field(default_factory=list)     # (events, timings) of samples not yet attributed
    pending_rows: int = 0
    event_rows: int = 0
    dtypes: set = field(default_factory=set)        # input dtypes seen, for the roofline's ceilings
    logs: tuple | None = None                       # (events, timings) append-only logs
    beyond_time: dict = field(default_factory=dict)   # file name -> rows of memory, sparsity, counters
    _result: pd.DataFrame | None = None
    _views: Views | None = None                     # what table.md shows, derived with the tables
    _derived_from: int = -1                         # samples in the derived tables last written
    _refreshed_at: float = 0.0                      # perf_counter() of the last table refresh
    _refresh_cost: float = 0.0                      # and what it took (s)
    _machine: Recorder | None = None

    @property
    def _notes(self) -> list[str]:
        """The manifest's notes, the list the run appends to."""
        if self.manifest.notes is None:
            self.manifest.notes = []
        return self.manifest.notes

    def execute(self) -> RunOutcome:
        config = self.config
        # what the machine was doing during the run (load, other processes): the gate's noise evidence
        self._machine = Recorder(threads=torch.get_num_threads()).start()
        self.run_dir.write_yaml(store.CONFIG, config.resolved())
        self.manifest = Manifest(
            schema=SCHEMA, run_id=str(uuid.uuid4()), name=config.name or Path(self.config_path).stem, config_file=str(self.config_path),
            created=_now(), updated=_now(), finished=None, status="running",
            **store.process_identity(),
            command=list(sys.argv), git_commit=git_commit() or git_commit(str(Path(self.config_path).resolve().parent)),
            seed=config.seed, samples=self.samples_override or config.samples, warmup=config.warmup,
            repeats=config.repeats, config_hash=config.hash(),
            fingerprint={**fingerprint(self.device, config.hash()), "rules": self.taxonomy.digest},
            workloads=[], checks={}, notes=[])
        self.manifest.compensation = _compensation(config, self.manifest.fingerprint)
        stop: BaseException | None = None
        try:
            self._write_all()  # every file exists from the start; the manifest is written last
            for entry in config.workloads:
                self._one(entry)
                self._refresh()
        except (KeyboardInterrupt, RuleFileError) as exc:
            stop = exc
            if isinstance(exc, KeyboardInterrupt):
                exc.run_dir = self.run_dir.path  # type: ignore[attr-defined]  # the CLI names it
        except BaseException as exc:  # a bug: record it, then let its traceback out
            stop = exc
        finally:
            with _signals_deferred():  # a second Ctrl-C must not cut the final writes short
                result = self._finish(stop)
        if stop is not None:
            raise stop
        errors = {w.name: w.error or "" for w in self.manifest.workloads if w.name in self.failed}
        return RunOutcome(self.run_dir, result, self.failed, self._notes, errors)

    def _one(self, entry) -> None:
        config = self.config
        n = self.samples_override or entry.samples or config.samples
        settings = SessionSettings(
            samples=n, warmup=config.warmup, repeats=config.repeats, device=self.device,
            torch=TorchSettings(config.profiler.record_shapes, config.profiler.with_flops, config.profiler.memory),
            trace_dir=self.run_dir.path / store.TRACES if (self.trace or config.profiler.chrome_trace) else None,
            nvtx=config.profiler.nvtx)
        record = WorkloadRecord(name=entry.label, workload=entry.workload, params=entry.params,
                                samples=n, samples_done=0, status="running", error=None)
        self.manifest.workloads.append(record)
        self.run_dir.write_manifest(self.manifest)
        started = time.perf_counter()
        machine = Recorder(threads=torch.get_num_threads()).start()
        cwd, streams = os.getcwd(), (sys.stdout, sys.stderr)
        task = self.progress.start(entry.label, n) if self.progress else None

        def on_sample(index: int, events: pd.DataFrame, timings: pd.DataFrame) -> None:
            # the samples up to ``index`` not saved yet (one, or a parsed batch of them)
            classified = self.taxonomy.classify_events(events)
            with _signals_deferred():   # a signal must not split the logs from the manifest
                self._save_sample(classified, timings)
                done = index + 1 - (record.samples_done or 0)
                record.samples_done = index + 1   # an assignment checks this field alone: no revalidation
                self.manifest.updated = _now()
                self.run_dir.write_manifest(self.manifest)
            if self.progress:
                for _ in range(done):
                    self.progress.advance(task)
            if self._refresh_due():   # a long workload's samples reach table.md as it goes
                self._write_all()

        try:
            workload = registry.build(entry.workload, entry.params, config.seed)
            name_cpu_kernels()   # again: a factory that called torch.compile has imported Inductor's config
            record.components = [{"name": c.name, "kind": c.kind, "profiler": c.profiler}
                                    for c in workload.components]
            _note_unmeasured(record, self._notes)
            compiled = compile_workload(workload, entry.compile, self.device)   # None unless `compile` is set
            record.info = _plain_info(workload.info)
            profile_workload(workload, entry.label, settings, on_sample=on_sample, spool=self._spool())
            if compiled:
                compiled.finish()   # before the metrics pass re-runs the compiled modules
            record.info = _plain_info(workload.info)   # again: making samples adds to it (compile facts)
            self._measure_beyond_time(workload, entry.label)
        except KeyboardInterrupt as exc:
            record.status, record.error = "interrupted", f"interrupted by {_signal_name(exc)}"
            raise
        except RuleFileError as exc:  # the rules cannot classify: no later workload could be either
            record.status, record.error = "error", exc.line()
            self.failed.append(entry.label)
            raise
        except UserError as exc:  # a workload's definition (WorkloadError), placed in the config
            index = self.config.workloads.index(entry)
            record.status, record.error = "error", exc.located(self.config_path, f"workloads[{index}]").line()
            self._log_failure(entry.label)
        except SystemExit as exc:  # sys.exit() inside a workload or factory ends the workload, not the run
            record.status, record.error = "error", f"the workload called sys.exit({exc.code!r})"
            self._log_failure(entry.label)
        except BaseException as exc:  # a failing workload must not take the others down, whatever it
            # raises: an Exception, GeneratorExit or a BaseException subclass of its own
            record.status, record.error = "error", f"{type(exc).__name__}: {exc}".splitlines()[0] + _where(exc)
            self._log_failure(entry.label)
        else:
            record.status = "ok"
            log.info("workload %s: %d samples", entry.label, n)
        finally:
            record.seconds = round(time.perf_counter() - started, 3)
            timings = self._all_timings()
            mine = timings[timings["workload"] == entry.label]
            record.machine = {**machine.stop(), "repeat_spread": repeat_spread(mine) if len(mine) else None}
            _restore_cwd(cwd)
            _restore_streams(streams)
            if self.progress:
                self.progress.finish(task, ok=record.status == "ok")

    def _measure_beyond_time(self, workload, label: str) -> None:
        """Memory, sparsity and counters per category (config ``metrics``): one extra pass per sample
        after the timed ones, written at once. A failure here is logged and noted, never the
        workload's failure: its timings are already saved."""
        m = self.config.metrics
        if not m.samples or not (m.memory or m.sparsity or m.counters):
            return
        counters = None
        if m.counters:
            found = probe_counters()
            if found.line() not in self._notes:
                self._notes.append(found.line())
            counters = Counters(found.events) if found.available else None
        taxonomy = self.taxonomy

        def classify(name: str) -> str:
            rule = taxonomy.first_match("ops", name, source="op")
            return rule.category if rule else "other"

        try:
            memory, sparse, counted = opmetrics.measure_workload(
                workload, label, list(workload.make_samples(m.samples)), classify, self.device,
                sparsity=m.sparsity, tolerance=m.tolerance, counters=counters)
        except Exception as exc:  # e.g. a compiled module that refuses a dispatch mode
            note = f"{label}: memory/sparsity pass failed ({type(exc).__name__}: {exc}".splitlines()[0] + ")"
            self._notes.append(note)
            log.warning("%s\n%s", note, traceback.format_exc())
            return
        finally:
            if counters is not None:
                counters.close()
        for rows, name, columns, wanted in ((memory, store.MEMORY, opmetrics.MEMORY_COLUMNS, m.memory),
                                            (sparse, store.SPARSITY, opmetrics.SPARSITY_COLUMNS, m.sparsity),
                                            (counted, store.COUNTERS, opmetrics.COUNTER_COLUMNS, counters is not None)):
            if wanted and rows:
                self.beyond_time.setdefault(name, []).extend(rows)
                self.run_dir.write_csv(name, pd.DataFrame(self.beyond_time[name], columns=columns))

    def _log_failure(self, label: str) -> None:
        self.failed.append(label)
        log.error("workload %s failed:\n%s", label, traceback.format_exc())

    def _finish(self, stop: BaseException | None) -> pd.DataFrame:
        """Final statuses, every table, table.md and the figures, whatever stopped the run."""
        manifest = self.manifest
        started = {w.name for w in manifest.workloads}
        for entry in self.config.workloads:
            if entry.label not in started:
                manifest.workloads.append(not_run(entry.label, entry.workload, entry.params,
                                                  "the run stopped before it started"))
        if isinstance(stop, KeyboardInterrupt):
            manifest.status, manifest.error = "interrupted", f"interrupted by {_signal_name(stop)}"
        elif stop is not None:
            manifest.status = "failed"
            manifest.error = (stop.line() if isinstance(stop, UserError)
                              else f"{type(stop).__name__}: {stop}".splitlines()[0])
        elif not self.failed:
            manifest.status = "ok"
        else:
            manifest.status = "failed" if len(self.failed) == len(manifest.workloads) else "partial"
        manifest.finished = _now()
        if self._machine is not None:
            timings = self._all_timings()
            manifest.machine = {**self._machine.stop(),
                                "repeat_spread": repeat_spread(timings) if len(timings) else None}
        if stop is None:   # a stopped run (Ctrl-C, a signal, a bug) does not wait for a measurement
            _record_ceilings(manifest, self.dtypes, self.device)
        self._save_spooled()
        self._save_logged()
        # the roofline, then table.md and report.html (and PNGs): once, whatever stopped the run
        events = view_events(self.run_dir)   # read once, for both, summed over samples as read
        if self._views is not None and self._result is not None:   # derived by _save_logged: add the roofline
            views = add_roofline(self.run_dir, self._views, self._result, events, self.manifest.ceilings)
        else:
            views = refresh_views(self.run_dir, events)
        render(self.run_dir, views, events, png=self.config.report.png)
        return self._result

    # Samples are attributed in batches of about this many event rows: attributing each sample
    # alone costs pandas' fixed overhead per sample; holding every sample costs memory.
    ATTRIBUTE_ROWS = 50_000

    def _save_sample(self, events: pd.DataFrame, timings: pd.DataFrame) -> None:
        """One finished sample: appended to the logs (events before timings, so that a kill
        between the two leaves no timings of a sample whose events are lost), then kept for
        attribution."""
        if self.logs is None:
            self.logs = self.run_dir.sample_logs()
        self.logs[0].append(events)
        self.logs[1].append(timings)
        self.saved += len(timings)
        self.pending.append((events, timings))
        self.pending_rows += len(events)
        self.event_rows += len(events)
        if len(events):
            self.dtypes.update(events["input_dtypes"].astype(str).unique())
        if self.pending_rows >= self.ATTRIBUTE_ROWS:
            self._attribute_pending()

    def _attribute_pending(self) -> None:
        if not self.pending:
            return
        events = pd.concat([e for e, _t in self.pending], ignore_index=True)
        timings = pd.concat([t for _e, t in self.pending], ignore_index=True)
        attribution = attribute(events, timings, self.manifest.compensation)
        self.samples.append(_compact(attribution.samples))
        self.checks.append(_compact(attribution.checks))
        self.pending, self.pending_rows = [], 0

    def _all_timings(self) -> pd.DataFrame:
        """Every saved sample's timings, read back from the log (not held: memory stays flat)."""
        if self.logs is None:
            return pd.DataFrame(columns=TIMING_COLUMNS)
        return self.run_dir.timings()

    def _spool(self) -> Spool:
        return Spool(self.run_dir.path / store.SPOOL)

    def _save_spooled(self) -> None:
        """Samples that finished but were not parsed (the loop was stopped between the two)."""
        try:
            events, timings = recover_spool(self.run_dir, self.taxonomy,
                                            self._all_timings() if self.logs is not None else None)
        except Exception as exc:   # their traces stay for `report`; the rest of the run is saved
            log.warning("could not parse the spooled samples: %s", exc)
            return
        if len(timings):
            self._save_sample(events, timings)
            for w in self.manifest.workloads:
                got = timings.loc[timings["workload"] == w.name, "sample"]
                if len(got):
                    w.samples_done = max(w.samples_done or 0, int(got.max()) + 1)
        self._spool().clear()

    # The derived tables and table.md are refreshed at most this often while a run goes (and always
    # at its end): rebuilding them costs a fixed part per refresh (re-deriving every table from
    # the samples so far, formatting table.md), which after every workload of configs/ci.yaml was
    # a tenth of its run (issue 23). Never more often than REFRESH_COST_FACTOR times what the last
    # refresh took, so refreshing costs at most 1/REFRESH_COST_FACTOR of a run however many samples
    # its tables hold.
    REFRESH_S = 30.0
    REFRESH_COST_FACTOR = 50.0

    def _refresh_due(self) -> bool:
        """Samples saved since the last refresh, and the last refresh old enough."""
        waited = time.perf_counter() - self._refreshed_at
        return (self.saved != self._derived_from
                and waited >= max(self.REFRESH_S, self.REFRESH_COST_FACTOR * self._refresh_cost))

    def _refresh(self) -> None:
        """After a workload: the tables and table.md when due, else the manifest alone (statuses,
        samples done); the samples not shown yet reach the tables at the next refresh or the end."""
        if self._refresh_due():
            self._write_all()
        else:
            self.run_dir.write_manifest(self.manifest)

    def _write_all(self) -> None:
        """Every table derived from the samples so far, and table.md (the figures and report.html
        are drawn once, by ``_finish``)."""
        started = time.perf_counter()
        views = self._write_derived()
        render_tables(self.run_dir, views)
        self._refreshed_at = time.perf_counter()
        self._refresh_cost = self._refreshed_at - started

    def _write_derived(self) -> Views:
        """samples, breakdown, checks, the system view and the manifest, from the samples so far
        (``results.save_attributed``: one derive call); returns the views for table.md."""
        self._attribute_pending()
        if self._derived_from == self.saved and self._views is not None:
            self.run_dir.write_manifest(self.manifest)  # the tables are up to date: statuses only
            return self._views
        self._derived_from = self.saved
        self.manifest.updated = _now()
        if not self.samples:   # nothing measured yet: every table, empty, from the empty frames
            results = save_results(self.run_dir, self.taxonomy.classify_events(empty_events()),
                                   self._all_timings(), self.manifest, with_roofline=False)
        else:
            results = save_attributed(self.run_dir, _joined(self.samples), _joined(self.checks), self._all_timings(),
                                      self.manifest, self.event_rows)
        self._result, self._views = results.breakdown, results.views
        return results.views

    def _save_logged(self) -> None:
        """The run's end: the logs become events.parquet and timings.csv (streamed: memory does
        not grow with the samples), the derived tables and manifest are written, then the logs go."""
        if self.logs is not None:
            for log in self.logs:
                log.close()
            self.run_dir.compact_events_log()
            self.run_dir.write_csv(store.TIMINGS, self._all_timings())
        self._write_derived()
        self.run_dir.drop_logs()


def _compact(frame: pd.DataFrame) -> pd.DataFrame:
    """A batch's attributed rows as the run holds them until its end: each text column (workload,
    component, axis, category: a few labels repeated on every row) as a categorical, a byte or two a
    row instead of a string; the original dtypes ride along in ``attrs`` for :func:`_joined`. At
    10,000 samples of mlp-demo the samples are 470,000 rows: 50 MiB as text (issue 23)."""
    text = {c: "category" for c in frame.columns
            if not pd.api.types.is_numeric_dtype(frame[c]) and not isinstance(frame[c].dtype, pd.CategoricalDtype)}
    compact = frame.astype(text)
    compact.attrs["dtypes"] = frame.dtypes.to_dict()
    return compact


def _joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The batches of :func:`_compact` as one frame with the dtypes attribution gave them."""
    joined = pd.concat(frames, ignore_index=True)
    return joined.astype(frames[0].attrs.get("dtypes", {}))


def recover_spool(run_dir: RunDir, taxonomy: Taxonomy, saved: pd.DataFrame | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The classified events and timings of the samples a run spooled but did not save (it was
    killed, or stopped between measuring and saving them), less any already in ``saved`` (the
    timings saved so far). The spool itself is left for the caller to clear once they are saved."""
    spool = Spool(run_dir.path / store.SPOOL)
    pending = spool.pending()
    if not pending:
        return taxonomy.classify_events(empty_events()), pd.DataFrame(columns=TIMING_COLUMNS)
    events, timings = spool.parse(pending)
    if saved is not None and len(saved) and len(timings):
        done = set(zip(saved["workload"].astype(str), saved["sample"].astype(int)))
        keep_t = [(w, int(s)) not in done for w, s in zip(timings["workload"].astype(str), timings["sample"])]
        keep_e = [(w, int(s)) not in done for w, s in zip(events["workload"].astype(str), events["sample"])]
        timings = timings[keep_t].reset_index(drop=True)
        events = events[keep_e].reset_index(drop=True)
    return taxonomy.classify_events(events), timings


def _where(exc: BaseException) -> str:
    """' (file, line N)' of the innermost frame of the workload's own code (not torch's, not the
    profiler's), so that the one line printed on the terminal points at the line to fix."""
    own = Path(__file__).resolve().parent
    runner = [own / "profiler", own / "pipeline.py", own / "workloads" / "base.py", own / "workloads" / "registry.py"]
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if registry.home(f.filename) in ("user", "package")   # package: a built-in workload
              and not any(Path(f.filename).resolve().is_relative_to(r) for r in runner)]
    return f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""


def _plain_info(info) -> dict:
    """A workload's ``info`` as the manifest will hold it (JSON; unknown objects as their text); info
    that cannot be written at all (a cycle, keys that are not text) fails the workload, not the run."""
    try:
        return json.loads(json.dumps(info if info is not None else {}, default=str))
    except (TypeError, ValueError, RecursionError) as exc:
        raise WorkloadError(f"its info cannot be saved as JSON ({type(exc).__name__}: {str(exc)[:120]})",
                            "make Workload.info a dict of text, numbers, lists and dicts with text keys",
                            key="info") from None


def _restore_cwd(cwd: str) -> None:
    """Back to the run's working directory after a workload that changed it (later workloads and
    relative paths in their params see the directory the run was started in)."""
    try:
        if os.getcwd() != cwd:
            os.chdir(cwd)
    except OSError:  # the workload removed the folder it moved to
        os.chdir(cwd)


def _restore_streams(streams: tuple) -> None:
    """sys.stdout and sys.stderr as they were before a workload that replaced or closed them (the
    run still prints its table and path). Python's own streams never close their descriptor, so a
    closed one is reopened on it."""
    for name, saved, fd in (("stdout", streams[0], 1), ("stderr", streams[1], 2)):
        if getattr(saved, "closed", False):
            saved = os.fdopen(fd, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        setattr(sys, name, saved)


def _note_unmeasured(record: WorkloadRecord, notes: list[str]) -> None:
    """Marks cProfile components that cannot be measured by function here (an outer profiler holds
    the hook, see nscharacterize/profiler/cprofile_backend.py) and says why, once per workload, in one line."""
    why = cprofile_backend.conflict()
    components = record.components or []
    names = [c["name"] for c in components if c["profiler"] == "cprofile"]
    if not why or not names:
        return
    for c in components:
        if c["name"] in names:
            c["unmeasured"] = why
    line = f"{record.name}: {', '.join(names)} not measured by function (all its time is Other): {why}"
    notes.append(line)
    log.warning(line)


def _signal_name(exc: BaseException) -> str:
    return exc.signal_name if isinstance(exc, Interrupted) else "SIGINT (Ctrl-C)"


@contextlib.contextmanager
def _signals_deferred():
    """Ignores SIGINT/SIGTERM/SIGHUP while the final files are written (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = [s for s in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, s)]
    previous = {s: signal.signal(getattr(signal, s), signal.SIG_IGN) for s in names}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(getattr(signal, s), handler)


def _compensation(config: Config, fp: dict) -> dict:
    """The manifest's ``compensation``: the configured mode and the profilers' measured cost per
    event (cached per machine and profiler settings), so the attribution can be redone from the
    run alone, either way. Without the costs the attribution is proportional."""
    entry = {"mode": config.profiler.compensation}
    try:
        cost = calibration.profiler_cost(fp, config.profiler.record_shapes, config.profiler.with_flops,
                                         config.profiler.memory)
    except Exception as exc:  # like the ceilings: a missing calibration must not fail the run
        log.warning("could not measure the profiler's cost per event: %s", exc)
        return entry
    return {**entry, **{k: cost[k] for k in ("torch", "cprofile", "settings", "measured_at", "cache_file") if k in cost}}


def _record_ceilings(manifest: Manifest, recorded: set, device: str) -> None:
    """The machine's roofline ceilings, for the dtypes the run's ops computed in (cached per machine)."""
    try:
        dtypes = {ceiling_key(d) for names in recorded for d in names.split(",")}
        manifest.ceilings = measured_ceilings(manifest.fingerprint, sorted(d for d in dtypes if d), device)
    except Exception as exc:  # the ceilings complete a run; they must not fail it
        log.warning("could not measure the machine's ceilings: %s", exc)


def _attach_log(run_dir: RunDir) -> logging.Handler:
    handler = logging.FileHandler(run_dir.path / store.LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
