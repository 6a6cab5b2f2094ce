"""CLI layer of the regression gate: ``compare``, ``baseline``, ``history`` and ``ab``.

Argument parsing and calls into the ``gate`` stage, nothing else. It stays beside cli.py rather
than in gate/ because nscharacterize/ is the project's face: every argparse definition lives there,
and stage folders stay libraries that tests, benchmarks and other tools call without a command line.
``register(subparsers)`` adds the subcommands; each handler (``args.handler``, run by cli.main)
returns an exit code: 0 clean, 1 regression, 3 inconclusive (the data cannot decide). Bad input raises a UserError (the gate's
CompareError, the store's RunDirError, a ConfigError), which cli.main prints as one line, exit 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nscharacterize.core.fileio import atomic_write_text
from nscharacterize.gate import settings
from nscharacterize.gate.errors import CompareError
from nscharacterize.gate.settings import DEFAULT_DB, DEFAULT_STORE, CompareSettings

from .argtypes import positive, samples

# Sequential A/B: rounds a side the gate may grow to while the data cannot decide (docs/ci.md,
# "Sequential rounds"; benchmarks/gate_power.py measured the error rates at this cap)
DEFAULT_MAX_ROUNDS = 12


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


# CompareSettings fields that have a command-line option (argparse dest = field name) -> the option
OPTIONS = {"rel_threshold": "--rel-threshold", "abs_floor_s": "--abs-floor", "alpha": "--alpha", "test": "--test",
           "share_points": "--share-points", "fail_on_share_shift": "--fail-on-share-shift"}


def _options(args: argparse.Namespace) -> dict:
    return {field: (option, getattr(args, field, None)) for field, option in OPTIONS.items()}


def _out(text: str) -> None:
    """Writes to stdout; a reader that went away (piped into `head`) is not an error."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _write(option: str, path: str, text: str) -> None:
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, text)
    except OSError as exc:
        raise CompareError(option, path, f"cannot write the report ({exc.strerror or exc})",
                           "pass a writable path") from None


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------

def _emit(cmp, args: argparse.Namespace) -> int:
    from nscharacterize.gate import formats as render

    _out({"terminal": lambda: render.render_terminal(cmp, args.all), "markdown": lambda: render.render_markdown(cmp),
          "json": lambda: render.render_json(cmp)}[args.format]())
    if args.markdown:
        _write("--markdown", args.markdown, render.render_markdown(cmp))
    if args.json:
        _write("--json", args.json, render.render_json(cmp))
    if getattr(args, "html", None):
        from nscharacterize.gate.html import compare_page

        _write("--html", args.html, compare_page(cmp))
    return cmp.exit_code


def cmd_compare(args: argparse.Namespace) -> int:
    """compare BASE NEW | compare --baseline NAME NEW | compare --configs A B | compare --refs A B CONFIG:
    the two-run forms are ``api.compare`` and ``api.baseline_gate``; A/B rounds are ``_ab``."""
    from nscharacterize import api

    modes = sum(bool(x) for x in (args.baseline, args.configs, args.refs))
    if modes > 1:
        raise CompareError("compare", "options", "--baseline, --configs and --refs exclude each other",
                           "pick one way to name the base")
    if args.configs:
        if args.runs:
            raise CompareError("compare", "RUN", "run directories given with --configs", "drop them; --configs runs both")
        return _ab(args, Path(args.configs[0]), Path(args.configs[1]))
    if args.refs:
        if args.runs:
            raise CompareError("compare", "RUN", "run directories given with --refs", "drop them; --refs runs both")
        return _ab(args, Path(args.refs[2]), refs=(args.refs[0], args.refs[1]))
    if args.baseline:
        if len(args.runs) != 1:
            raise CompareError("compare", "NEW_RUN", f"--baseline takes exactly one run, got {len(args.runs)}",
                               "use `compare --baseline NAME NEW_RUN`")
    elif len(args.runs) != 2:
        raise CompareError("compare", "BASE_RUN NEW_RUN", f"expected two run directories, got {len(args.runs)}",
                           "use `compare BASE_RUN NEW_RUN` or `compare --baseline NAME NEW_RUN`")
    common = dict(settings=args.settings, allow_env_change=args.allow_env_change, option_names=OPTIONS,
                  **{field: getattr(args, field, None) for field in OPTIONS})
    if args.baseline:
        return _emit(api.baseline_gate(Path(args.runs[0]), args.baseline, store=args.store, **common), args)
    return _emit(api.compare(Path(args.runs[0]), Path(args.runs[1]), **common), args)


def _ab(args: argparse.Namespace, config: Path, config_b: Path | None = None, refs: tuple[str, str] | None = None) -> int:
    """A/B rounds of two configs (``config``, ``config_b``) or of two refs with one config, then compare."""
    from nscharacterize.gate import abrun, refs as gate_refs
    from nscharacterize.gate.compare import compare_runs

    settings.resolve(settings_file=args.settings, options=_options(args))   # bad values fail before any round
    max_rounds = args.max_rounds if args.max_rounds is not None else max(args.rounds, DEFAULT_MAX_ROUNDS)
    if max_rounds < args.rounds:
        raise CompareError("--max-rounds", str(max_rounds), f"is below --rounds {args.rounds}",
                           f"give --max-rounds {args.rounds} or more (equal: no rounds are added)")
    out = Path(args.out) if args.out else None
    if out is not None:  # before any round: a file or an unwritable place there would fail round 1
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            what = "is a file, not a folder" if out.exists() else f"cannot be created ({exc.strerror})"
            raise CompareError("--out", str(out), what, "give a folder for the A/B rounds") from None
        if not out.is_dir():
            raise CompareError("--out", str(out), "is a file, not a folder", "give a folder for the A/B rounds")
    looks = max(1, max_rounds - args.rounds + 1)
    allow_keys = () if refs else ("config_hash",)

    def judge(a: Path, b: Path):
        # each look tests at its share of alpha (CompareSettings.alpha_look), fixed before the first
        # round, so that stopping at the first decision keeps the gate's false-alarm rate at alpha
        # (docs/ci.md, "Sequential rounds"); which look it is follows from the rounds merged so far
        look = max(1, abrun.rounds_merged(b) - args.rounds + 1) if looks > 1 else None
        chosen = settings.for_run(b, args.settings, _options(args)).model_copy(update={"looks": looks, "look": look})
        return compare_runs(a, b, chosen, allow_env_change=args.allow_env_change, allow_keys=allow_keys)

    def look(a: Path, b: Path) -> tuple[int, str]:
        cmp = judge(a, b)
        return cmp.exit_code, cmp.undecided()

    plan = abrun.Plan(max_rounds, look, args.budget) if max_rounds > args.rounds else None
    if refs:
        a, b = gate_refs.run_refs(refs[0], refs[1], config, args.rounds, args.samples, out, log=_log, plan=plan)
    else:
        assert config_b is not None, "ab: either refs or a second config"
        from nscharacterize.config import load_config

        a, b = abrun.run_configs(config, config_b, args.rounds, args.samples, out, log=_log, check=load_config,
                                 plan=plan)
    _log(f"merged runs: A={a} B={b}")
    return _emit(judge(a, b), args)


def cmd_ab(args: argparse.Namespace) -> int:
    """ab CONFIG_A CONFIG_B: run both interleaved in this job and compare (A = base, B = new)."""
    return _ab(args, Path(args.config_a), Path(args.config_b))


def cmd_baseline(args: argparse.Namespace) -> int:
    from nscharacterize.gate import baselines

    if args.baseline_cmd == "save":
        dest = baselines.save(args.run, args.name, args.store, force=args.force)
        _out(f"saved baseline {args.name!r} to {dest} (commit it; compare with "
             f"`nscharacterize compare --baseline {args.name} NEW_RUN`)\n")
        return 0
    if args.baseline_cmd == "list":
        _out("".join(f"{name}\n" for name in baselines.names(args.store)))
        return 0
    if args.baseline_cmd == "rm":
        _out(f"removed {baselines.remove(args.name, args.store)}\n")
        return 0
    raise CompareError("baseline", "command", "missing", "use `baseline save`, `baseline list` or `baseline rm`")


def cmd_history(args: argparse.Namespace) -> int:
    from nscharacterize.gate import history, trend

    if args.history_cmd == "add":
        for run in args.runs:
            run_id, new = history.add(run, args.db)
            _out(f"{'added' if new else 'already in history'}: {run} (id {run_id}) -> {args.db}\n")
        return 0
    if args.history_cmd == "show":
        series = history.load_series(args.db, workload=args.workload,
                                     component=None if args.components else history.ALL, last=args.last)
        if args.category:
            series = [s for s in series if s.category in args.category]
        _out(trend.render_trend(series))
        if series and args.plot != "none":
            _out(f"trend plot: {trend.plot_trend(series, args.plot)}\n")
        return 0
    raise CompareError("history", "command", "missing", "use `history add RUN` or `history show`")


# ---------------------------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------------------------

def _add_threshold_args(p: argparse.ArgumentParser) -> None:
    d = CompareSettings()
    g = p.add_argument_group("thresholds (also config keys under `compare:`)")
    g.add_argument(OPTIONS["rel_threshold"], dest="rel_threshold", type=float, metavar="FRAC",
                   help=f"relative change a regression must exceed (default {d.rel_threshold})")
    g.add_argument(OPTIONS["abs_floor_s"], dest="abs_floor_s", type=float, metavar="SECONDS",
                   help=f"absolute change per sample a regression must exceed (default {d.abs_floor_s})")
    g.add_argument(OPTIONS["alpha"], dest="alpha", type=float, help=f"significance level (default {d.alpha})")
    g.add_argument(OPTIONS["test"], dest="test", choices=["auto", "mannwhitney", "welch", "bootstrap"],
                   help="significance test over per-sample values (default auto: Mann-Whitney U where the sample "
                   "counts can reach alpha, else Welch's t on log times)")
    g.add_argument(OPTIONS["share_points"], dest="share_points", type=float, metavar="PTS",
                   help=f"category-share shift to flag, in points (default {d.share_points})")
    g.add_argument(OPTIONS["fail_on_share_shift"], dest="fail_on_share_shift", action="store_true", default=None,
                   help="exit 1 on a share shift too")
    g.add_argument("--settings", metavar="YAML", help="a YAML file whose `compare:` section sets thresholds")
    p.add_argument("--allow-env-change", action="store_true",
                   help="compare runs whose environment fingerprints differ (differences are printed)")


def _add_output_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output")
    g.add_argument("--format", choices=["terminal", "markdown", "json"], default="terminal", help="what stdout shows")
    g.add_argument("--markdown", metavar="PATH", help="also write the Markdown report (for a PR comment)")
    g.add_argument("--json", metavar="PATH", help="also write the JSON report")
    g.add_argument("--html", metavar="PATH", help="also write a self-contained HTML page (sortable rows, figure, "
                   "environments)")
    g.add_argument("--all", action="store_true", help="show every row, not only totals and changes")


def _add_ab_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("same-job A/B runs")
    g.add_argument("--rounds", type=positive, default=2, help="rounds per side, interleaved ABBA (default 2)")
    g.add_argument("--max-rounds", type=positive, metavar="N",
                   help=f"while the gate is inconclusive, add one round a side up to N (default {DEFAULT_MAX_ROUNDS}, "
                   "or --rounds if larger; equal to --rounds: never add); alpha is split over the looks, half at the last")
    g.add_argument("--budget", type=_seconds, metavar="SECONDS",
                   help="add no round that would end past SECONDS after the first round started (default: no limit)")
    g.add_argument("--samples", type=samples, help="samples per round (passed to `nscharacterize run --samples`)")
    g.add_argument("--out", metavar="DIR", help="where the rounds and the merged runs go (default a temp dir)")


def register(subparsers) -> None:
    """Adds ``compare``, ``baseline``, ``history`` and ``ab`` to the CLI's subparsers."""
    p = subparsers.add_parser(
        "compare", help="compare two saved runs per category and gate on regressions (exit 0/1/2/3)",
        description="Compare per-category runtimes of two runs. Exit 0 when clean, 1 on a regression, 2 on bad input, "
        "3 when the data cannot decide (too few samples, noise or machine contention wider than the threshold).")
    p.add_argument("runs", nargs="*", metavar="RUN", help="BASE_RUN NEW_RUN (or NEW_RUN with --baseline)")
    p.add_argument("--baseline", metavar="NAME", help="compare NEW_RUN against a saved baseline")
    p.add_argument("--store", default=str(DEFAULT_STORE), help="baseline store (default %(default)s)")
    p.add_argument("--configs", nargs=2, metavar=("A.yaml", "B.yaml"), help="run two configs interleaved and compare")
    p.add_argument("--refs", nargs=3, metavar=("REF_A", "REF_B", "CONFIG"),
                   help="run CONFIG with the code of two git refs, interleaved, and compare")
    _add_threshold_args(p)
    _add_output_args(p)
    _add_ab_args(p)
    p.set_defaults(handler=cmd_compare)

    p = subparsers.add_parser("ab", help="run two configs interleaved in this job and compare them",
                              description="Same-job A/B: ABBA rounds of both configs, merged per side, then compare.")
    p.add_argument("config_a", metavar="CONFIG_A", help="base config")
    p.add_argument("config_b", metavar="CONFIG_B", help="new config")
    _add_threshold_args(p)
    _add_output_args(p)
    _add_ab_args(p)
    p.set_defaults(handler=cmd_ab)

    p = subparsers.add_parser("baseline", help="save and list named baselines for compare --baseline")
    bsub = p.add_subparsers(dest="baseline_cmd", metavar="{save,list,rm}")
    s = bsub.add_parser("save", help="copy a run's compare files into the baseline store")
    s.add_argument("run", metavar="RUN")
    s.add_argument("--name", required=True)
    s.add_argument("--store", default=str(DEFAULT_STORE), help="default %(default)s")
    s.add_argument("--force", action="store_true", help="replace an existing baseline of that name")
    s = bsub.add_parser("list", help="list saved baselines")
    s.add_argument("--store", default=str(DEFAULT_STORE))
    s = bsub.add_parser("rm", help="remove a saved baseline")
    s.add_argument("name")
    s.add_argument("--store", default=str(DEFAULT_STORE))
    p.set_defaults(handler=cmd_baseline)

    p = subparsers.add_parser("history", help="keep runs in SQLite; show trends and step changes")
    hsub = p.add_subparsers(dest="history_cmd", metavar="{add,show}")
    s = hsub.add_parser("add", help="add runs to the history database")
    s.add_argument("runs", nargs="+", metavar="RUN")
    s.add_argument("--db", default=str(DEFAULT_DB), help="default %(default)s")
    s = hsub.add_parser("show", help="print per-category trends with step changes and write a trend plot")
    s.add_argument("--db", default=str(DEFAULT_DB), help="default %(default)s")
    s.add_argument("--workload", help="only this workload")
    s.add_argument("--category", action="append", help="only these categories (repeatable; 'total' too)")
    s.add_argument("--components", action="store_true", help="per component, not per workload total")
    s.add_argument("--last", type=positive, metavar="N", help="only the last N runs")
    s.add_argument("--plot", default=str(Path(".nscharacterize") / "trend.png"),
                   help="trend plot PNG (default %(default)s; 'none' to skip)")
    p.set_defaults(handler=cmd_history)
