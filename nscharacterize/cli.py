"""The `nscharacterize` command line.

Exit status: 0 done, 1 a workload failed or (gate commands) a regression, 2 bad input (one line on
stderr naming the file or option, the key and the fix), 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP.
Anything else is a bug: Python's traceback and exit 1.
"""
from __future__ import annotations

import os

os.environ.setdefault("KINETO_LOG_LEVEL", "5")  # silence Kineto's start/stop chatter on stderr

import argparse  # noqa: E402
import gc  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402

from nscharacterize.argtypes import Parser, positive, samples  # noqa: E402
from nscharacterize.core.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE, exit_for_signal  # noqa: E402


# report.html draws every figure itself; PNG files take matplotlib seconds per run, so they are drawn on request.
PNG_HELP = "also write the figures as PNG files beside report.html (heatmap.png, breakdown.png, roofline.png, ...)"

def main(argv: list[str] | None = None) -> int:
    entry = argv is None   # the process's own command line (the script, python -m), not a caller in Python
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    from nscharacterize.core.errors import UserError

    restore = _stop_on_signals()
    try:
        return args.handler(args)
    except UserError as exc:
        print(f"nscharacterize: error: {exc.line()}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (`| head`): what it wanted it has; not an error
        _drop_stdout()
        return EXIT_OK
    except KeyboardInterrupt as exc:
        import signal

        signum = getattr(exc, "signum", signal.SIGINT)
        where = getattr(exc, "run_dir", None)
        kept = f"; every finished sample is kept in {where}" if where else ""
        print(f"nscharacterize: stopped by {signal.Signals(signum).name}{kept}", file=sys.stderr)
        code = exit_for_signal(signum)
        if entry:
            _end_process(code)
        return code
    finally:
        restore()


def _end_process(code: int) -> None:
    """Ends a process stopped by a signal once the Python-level exit work is done (the atexit
    callbacks: the log's flush and close, pools, Ray), without the native teardown that follows
    it. Why: a stop can land inside a torch.profiler session, and tearing down the libraries'
    half-stopped native state at exit crashed the process after the run directory was complete
    (exit -11 instead of 143, once in CI). Everything measured is on disk by this point."""
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _drop_stdout() -> None:
    """Points descriptor 1 at /dev/null, so the interpreter's final flush of what was left in
    the buffer does not fail on the closed pipe (and print a message about it)."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _stop_on_signals():
    """SIGTERM and SIGHUP raise ``errors.Interrupted`` (a KeyboardInterrupt), so that a `kill`, a
    CI timeout or a closed terminal stops a run in order, as Ctrl-C does. Returns the undo."""
    import signal
    import threading

    from nscharacterize.core.errors import Interrupted

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def stop(signum, frame):
        raise Interrupted(signum)

    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {n: signal.signal(getattr(signal, n), stop) for n in names}
    return lambda: [signal.signal(getattr(signal, n), h) for n, h in previous.items()]


class _Version(argparse.Action):
    """``--version``: the version is read from the package's metadata only when asked for, not on
    every command (``import-trace`` counts its milliseconds)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from nscharacterize.core.version import tool_version

        print(f"nscharacterize {tool_version()}")
        parser.exit(EXIT_OK)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser; for a ``command`` of this module's own, the gate's commands are left
    out (importing them costs 70 ms of pydantic models, which ``import-trace`` would wait for)."""
    parser = Parser(prog="nscharacterize", description="Workload characterization for neuro-symbolic AI.")
    parser.add_argument("--version", action=_Version, help="print this tool's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="profile the workloads of a config and write a run directory",
                       epilog="A config's workload is a built-in name (`nscharacterize list`) or your own "
                              "factory as 'package.module:factory', which must be importable: installed, or "
                              "its folder on PYTHONPATH, e.g. `PYTHONPATH=. nscharacterize run mine.yaml` "
                              "(README, Bring your own model).")
    p.add_argument("config", help="YAML config (see configs/); workloads are built-in names or 'package.module:factory'")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], help="override the config's device")
    p.add_argument("--out", help="parent folder of the run directory (default: the config's output, runs/)")
    p.add_argument("--samples", type=samples, help="profiled samples per workload (overrides the config)")
    p.add_argument("--trace", action="store_true", help="also write Chrome traces under traces/")
    p.add_argument("--nvtx", action="store_true",
                   help="on CUDA, name each component's timed passes with NVTX ranges for Nsight Compute "
                        "(as profiler.nvtx: true)")
    p.add_argument("--png", action="store_true", help=PNG_HELP + " (as report.png: true)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("sweep", help="run a config's sweep: block, one run per point, and fit how each category scales")
    p.add_argument("config", help="YAML config with a sweep: block (see configs/sweeps/)")
    p.add_argument("--executor", choices=["serial", "ray"], default="serial",
                   help="serial: points one by one, each in its own process (default); ray: points as Ray tasks")
    p.add_argument("--ray-address", help="an existing Ray cluster (default: start a local instance)")
    p.add_argument("--ray-cpus", type=positive, help="CPUs of the local Ray instance (default: all)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], help="override the config's device")
    p.add_argument("--out", help="parent folder of the sweep directory (default: the config's output, runs/)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=cmd_sweep)

    p = sub.add_parser("report", help="re-render tables and plots of a run or sweep directory")
    p.add_argument("run_dir")
    p.add_argument("--reclassify", action="store_true",
                   help="re-classify the saved events with the current rules before rendering")
    p.add_argument("--png", action="store_true", help=PNG_HELP + " (kept up to date once drawn)")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("explain", help="show the category of an op, kernel or Python function, and why")
    p.add_argument("name", help="e.g. aten::addmm, a CUDA kernel name, or json.decoder:raw_decode")
    p.add_argument("--within", default="", help="enclosing ops, outermost first, comma-separated")
    p.add_argument("--calls", default="", help="ops it calls directly, comma-separated")
    p.add_argument("--as", dest="source", choices=["op", "runtime", "annotation", "kernel", "python"],
                   help="what the name is: annotation is a record_function range such as "
                        "Optimizer.step#Adam.step (default: guessed)")
    p.add_argument("--config", help="a run's config: its taxonomy.rules files are checked first, as the run does")
    p.add_argument("--run", dest="run_dir", metavar="RUN_DIR",
                   help="a run directory (profiled or imported): the rule files it was classified with are checked first")
    p.add_argument("--rules", action="append", default=[], metavar="NAMESPACE=FILE",
                   help="an extra rule file, e.g. python=myrules.yaml (repeatable; checked before the built-ins)")
    p.set_defaults(handler=cmd_explain)

    p = sub.add_parser("taxonomy", help="inspect the rule set")
    p.add_argument("--coverage", action="store_true", help="rule coverage of every ATen op in this torch")
    p.add_argument("--missing", action="store_true", help="with --coverage: list every op without a rule")
    p.add_argument("--rules", action="store_true", help="print the rules in order")
    p.set_defaults(handler=cmd_taxonomy)

    p = sub.add_parser("import-trace", help="classify and attribute torch.profiler Chrome traces into a run directory")
    p.add_argument("traces", nargs="+", metavar="TRACE", help="Chrome trace(s), .json or .json.gz, or a folder of them "
                   "(one job's rank files, as HTA reads them)")
    p.add_argument("--out", default="runs", help="parent folder of the run directory (default: runs/)")
    p.add_argument("--name", default="import", help="run name (default: import)")
    p.add_argument("--quiet", action="store_true", help="no table: print only the run directory")
    p.add_argument("--png", action="store_true", help=PNG_HELP)
    p.add_argument("--warmup-steps", type=int, default=1, metavar="K",
                   help="ProfilerStep#N ranges become samples; leave out the first K as warm-up (default: 1; "
                        "a trace with K steps or fewer keeps them all)")
    p.add_argument("--rules", action="append", default=[], metavar="NAMESPACE=FILE",
                   help="your own rule file, e.g. kernels=my_kernels.yaml (repeatable; checked before the built-ins; "
                        "kept in the run's config.yaml, so `report --reclassify` applies it again)")
    p.set_defaults(handler=cmd_import_trace)

    p = sub.add_parser("ncu-import", help="merge an Nsight Compute CSV export into a run's roofline as measured points",
                       description="Reads REPORT (ncu --csv, raw or details page), places each kernel in the "
                                   "component whose nsc| NVTX range it ran in (run --nvtx) and in a category, "
                                   "writes roofline_measured.csv and re-renders the run. See docs/guide/metrics.md.")
    p.add_argument("report", help="the CSV: ncu --import REPORT.ncu-rep --csv --page raw > REPORT.csv (.gz too)")
    p.add_argument("run_dir", help="the run directory of the same config")
    p.add_argument("--component", metavar="WORKLOAD/COMPONENT",
                   help="give every kernel outside the project's NVTX ranges to this component "
                        "(a report collected without --nvtx)")
    p.add_argument("--passes", type=positive, default=1,
                   help="with --component: how many passes of it the report holds (default 1)")
    p.add_argument("--include-warmup", action="store_true", help="count the warm-up passes' kernels too")
    p.set_defaults(handler=cmd_ncu_import)

    p = sub.add_parser("list", help="built-in workloads and their parameters")
    p.set_defaults(handler=cmd_list)

    if command is None or command not in sub.choices:   # the gate's commands, or no command of the above
        from nscharacterize import gate_cli

        gate_cli.register(sub)
    for action in sub._choices_actions:   # each command's --help opens with what it does
        each = sub.choices[action.dest]
        if not each.description and action.help:
            each.description = action.help[0].upper() + action.help[1:] + "."
    return parser


def cmd_run(args) -> int:
    from nscharacterize import api

    console = _console()
    progress = None if args.quiet else _Progress(console)
    try:
        outcome = api.run(args.config, device=args.device, out=args.out, samples=args.samples,
                          trace=args.trace, nvtx=args.nvtx, png=args.png, progress=progress)
    finally:
        if progress:
            progress.stop()
    if not args.quiet:
        breakdown = outcome.breakdown
        if not breakdown.empty:
            from nscharacterize.reports.tables import rich_table

            console.print(rich_table(breakdown))
    for name in outcome.failed:   # the reason, on the terminal even with --quiet; the traceback stays in run.log
        print(f"nscharacterize: workload {name} failed: {outcome.errors.get(name) or '?'} "
              f"(traceback in {outcome.path / 'run.log'})", file=sys.stderr)
    for note in outcome.notes:
        print(f"nscharacterize: note: {note}", file=sys.stderr)
    print(outcome.path)
    return EXIT_FAILED if outcome.failed else EXIT_OK


def cmd_sweep(args) -> int:
    from nscharacterize.config import load_config
    from nscharacterize.sweep import sweep

    config = load_config(args.config)
    if args.executor != "ray" and (args.ray_address or args.ray_cpus):
        from nscharacterize.config import ConfigError

        raise ConfigError(None, "--ray-address/--ray-cpus", "only apply to --executor ray", "add --executor ray")
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    path = sweep(config, args.config, executor=args.executor, ray_address=args.ray_address,
                 ray_cpus=args.ray_cpus, device=args.device, out=args.out, log=log)
    from nscharacterize.reports.sweep_report import load_sweep

    manifest = load_sweep(path)
    if not args.quiet:
        print((path / "table.md").read_text(encoding="utf-8"))
    print(path)
    return EXIT_OK if manifest["status"] == "ok" else EXIT_FAILED


def cmd_report(args) -> int:
    from nscharacterize import api

    done = api.report(args.run_dir, reclassify=args.reclassify, png=args.png)
    for note in done.notes:
        print(f"nscharacterize: note: {note}", file=sys.stderr)
    if not done.sweep:
        from nscharacterize.reports.tables import rich_table

        _console().print(rich_table(done.breakdown, title=f"{done.manifest.name}: runtime by category"))
    for path in done.written:
        print(path)
    return EXIT_OK


def cmd_import_trace(args) -> int:
    from nscharacterize.profiler import trace_prefetch

    # The first file starts decoding in a worker now, while pandas and the tool are imported. The
    # import is given the folders as named (it lists them the same way): a file found in a folder
    # is read differently from one named on its own (import_trace.import_traces).
    trace_prefetch.start(trace_prefetch.trace_files(args.traces))
    try:
        from nscharacterize import api
        from nscharacterize.import_trace import prepare_to_write

        prepare_to_write()
        if not args.quiet:   # the closing table's library too (15 ms), while the trace still decodes
            import rich.console  # noqa: F401
            import rich.table  # noqa: F401
        # Everything imported so far (pandas, pyarrow, plotly, the tool: some 80k objects the
        # collector tracks) lives as long as this process. Frozen, the collector never walks it
        # again, where each full collection that the tables and the page trigger did: 40-80 ms of
        # a 1.0-1.3 s import of a 53-60 MiB trace (benchmarks/import_vs_hta.py). New objects are
        # collected as before.
        gc.freeze()
        run = api.import_traces(args.traces, out=args.out, name=args.name, warmup_steps=args.warmup_steps,
                                png=args.png, rules=_rule_options(args.rules))
    finally:
        trace_prefetch.discard()
    if not args.quiet:
        from nscharacterize.reports.tables import rich_table

        _console().print(rich_table(run.breakdown, title=f"{args.name}: runtime by category"))
    print(run.path)
    return EXIT_OK


def cmd_ncu_import(args) -> int:
    from nscharacterize.api import saved_rules
    from nscharacterize.ncu_import import import_ncu
    from nscharacterize.rundir.store import RunDir

    done = import_ncu(args.report, args.run_dir, saved_rules(RunDir(args.run_dir)), component=args.component,
                      passes=args.passes, include_warmup=args.include_warmup)
    n = done.notes
    print(f"nscharacterize: {n['placed']} of {n['launches']} kernel launches placed ({n['outside_ranges']} outside "
          f"the project's NVTX ranges, {n['warmup']} in warm-up passes"
          + (f", ranges of components not in this run: {', '.join(n['unknown_ranges'])}" if n["unknown_ranges"] else "")
          + ")", file=sys.stderr)
    print(done.path)
    for path in done.written:
        print(path)
    return EXIT_OK


def cmd_explain(args) -> int:
    from nscharacterize.taxonomy.classifier import Taxonomy

    name, source = args.name, args.source or _guess_source(args.name)
    bare = None
    if args.source is None and source == "kernel":   # `explain relu`: an op written without its name space?
        bare = _aten_op(name)
        if bare:
            name, source = bare, "op"
    within = tuple(x for x in args.within.split(",") if x)
    calls = tuple(x for x in args.calls.split(",") if x)
    verdict = Taxonomy(_explain_rules(args)).classify(source, name, within, calls)
    print(f"name:      {name}" + (f"  (you wrote {args.name!r}: no name space, so the ATen op of that name; "
                                  f"--as kernel to read it as a kernel name)" if bare else ""))
    print(f"as:        {source}" + (f" (within {' > '.join(within)})" if within else ""))
    if source == "python":
        print(f"category:  {verdict.subcategory} (Python, Fig. 7); operator axis: other")
    else:
        print(f"category:  {verdict.category}")
    if verdict.rule is None:
        print("rule:      none (no explicit rule matches; counted as Other, unmatched)")
        return EXIT_OK
    print(f"rule:      {verdict.rule.id}  ({verdict.rule.file.split('/')[-1]}: {verdict.rule.match.pattern[:80]}"
          f"{'...' if len(verdict.rule.match.pattern) > 80 else ''})")
    if verdict.via:
        print(f"via:       {verdict.via}")
    print(f"reason:    {verdict.rule.reason}")
    return EXIT_OK


def _aten_op(name: str) -> str | None:
    """``aten::NAME`` if ``NAME`` is a bare identifier that this torch registers as an ATen op."""
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        return None
    from nscharacterize.taxonomy.coverage import registered_aten_ops

    return f"aten::{name}" if f"aten::{name}" in set(registered_aten_ops()) else None


def _explain_rules(args) -> dict:
    """The extra rule files `explain` checks first: those a run directory was classified with
    (``--run``), a config's ``taxonomy.rules`` (as its run does) and any ``--rules
    NAMESPACE=FILE``; the files are loaded, so a bad one is one line."""
    sources: list[dict] = []
    if args.run_dir:   # its config.yaml's taxonomy.rules, as `report --reclassify` reads them
        from nscharacterize.api import saved_rules
        from nscharacterize.rundir.store import RunDir

        sources.append(saved_rules(RunDir(args.run_dir)))
    if args.config:   # relative paths: from the working directory, as `run` reads them
        from nscharacterize.config import load_config

        sources.append(load_config(args.config).taxonomy.rules)
    sources.append(_rule_options(args.rules))
    rules: dict[str, list[str]] = {}
    for source in sources:
        for ns, files in source.items():
            rules.setdefault(ns, []).extend(files)
    return rules


def _rule_options(items: list[str]) -> dict[str, list[str]]:
    """``--rules NAMESPACE=FILE`` options (explain, import-trace) as name space -> files, in order."""
    from nscharacterize.core.errors import UserError
    from nscharacterize.taxonomy.rules import NAMESPACES

    rules: dict[str, list[str]] = {}
    for item in items:
        ns, sep, file = item.partition("=")
        if not sep or ns not in NAMESPACES or not file:
            raise UserError(None, "--rules", f"{item!r} is not NAMESPACE=FILE",
                            f"write e.g. python=myrules.yaml (name spaces: {', '.join(NAMESPACES)})")
        rules.setdefault(ns, []).append(file)
    return rules


# Kernel names that look like runtime calls: NCCL's kernels (ncclDevKernel_AllGather_RING_LL,
# ncclKernel_...) and "cu" + a capital that begins no CUDA driver API call (apex's cuApplyLayerNorm).
# A pattern text, compiled (and cached by re) by the first `explain` that needs it, not on the start
# of every command.
_KERNEL_LIKE_API_NAME = (
    r"(?:nccl|rccl)(?:Dev)?Kernel_|cu(?!da|dnn|blas)(?!Launch|Mem|Module|Ctx|Stream|Event|Graph|Device|Init|Func|"
    r"Pointer|Occupancy|Library|Kernel|Get|Array|Tex|Surf|Link|Ipc|Profiler|Driver|Import|External|Signal|Wait|"
    r"Thread|Tensor|Multicast|Coredump|Green|Logs|Checkpoint|Vdpau|GL|EGL)[A-Z]")


def _guess_source(name: str) -> str:
    from nscharacterize.profiler.events import RUNTIME_API

    if RUNTIME_API.fullmatch(name) and not re.match(_KERNEL_LIKE_API_NAME, name):
        return "runtime"
    if re.fullmatch(r"[A-Za-z_]\w*::\w+", name):  # dispatcher op (kernels have spaces and templates)
        return "op"
    if re.fullmatch(r"[\w.]+#[\w.]+", name):  # torch's Class.method#Instance.method ranges (optimizers)
        return "annotation"
    if name.startswith("builtin:") or (":" in name and " " not in name):
        return "python"
    return "kernel"


def cmd_taxonomy(args) -> int:
    from nscharacterize.taxonomy.classifier import Taxonomy

    taxonomy = Taxonomy()
    if args.rules or not args.coverage:
        for ns, rules in taxonomy.rules.items():
            print(f"# {ns}: {len(rules)} rules")
            for r in rules:
                extra = (f" within {r.within.pattern}" if r.within else "") + (f" calls {r.calls.pattern}" if r.calls else "")
                print(f"  {r.id:<28} {r.category:<16} {r.reason}{extra}")
        if not args.coverage:
            return EXIT_OK
    from nscharacterize.taxonomy.coverage import coverage

    cov = coverage(taxonomy)
    print(f"ATen ops registered in torch: {cov.total}; with an explicit rule: {cov.covered} "
          f"({100 * cov.fraction:.1f}%)")
    for cat, n in cov.by_category.items():
        print(f"  {cat:<16} {n:>5}")
    print(f"without a rule: {len(cov.missing)}")
    shown = cov.missing if args.missing else cov.missing[:40]
    if shown:
        print("  " + " ".join(shown) + (" ..." if len(shown) < len(cov.missing) else ""))
    return EXIT_OK


def cmd_list(args) -> int:
    from nscharacterize.workloads import registry

    for name in registry.builtin_names():
        spec = registry.get_spec(name)
        print(f"{name}: {spec.summary}")
        for field_name, field in spec.params.model_fields.items():
            print(f"    {field_name:<28} {_type_name(field.annotation):<22} default {field.default!r:<14} "
                  f"{field.description or ''}")
    return EXIT_OK


def _type_name(annotation) -> str:
    import typing

    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return "|".join(str(a) for a in args)
    if args:  # Optional[int], int | None, list[int]
        return " | ".join(_type_name(a) for a in args) if type(None) in args else str(annotation)
    return "None" if annotation is type(None) else getattr(annotation, "__name__", str(annotation))


def _console():
    from rich.console import Console

    return Console(stderr=False, width=max(180, int(os.environ.get("COLUMNS", "0") or 0)))


class _Progress:
    """A progress bar per workload on stderr (samples done / samples). It writes to a copy of the
    terminal's stderr, since during the run descriptor 2 goes to run.log (nscharacterize.quiet)."""

    def __init__(self, console):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from nscharacterize.quiet import terminal_stream

        self.terminal = terminal_stream()
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(file=self.terminal),
                                 redirect_stderr=False)
        self.progress.start()

    def start(self, label: str, total: int):
        return self.progress.add_task(f"{label}", total=total)

    def advance(self, task) -> None:
        self.progress.advance(task)

    def finish(self, task, ok: bool) -> None:
        if not ok:
            self.progress.update(task, description=f"[red]{self.progress.tasks[task].description} (failed)")

    def stop(self) -> None:
        self.progress.stop()
        self.terminal.close()


if __name__ == "__main__":
    sys.exit(main())
