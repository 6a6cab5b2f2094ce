"""CLI glue for regression tracking: ``compare``, ``baseline``, ``history`` and ``ab``.

``register(subparsers)`` adds the subcommands; each handler (``args.handler``, run by cli.main)
returns an exit code: 0 clean, 1 regression, 2 bad input (one line on stderr, never a traceback).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from pydantic import ValidationError

from .reports import baseline as baseline_store
from .reports.compare import CompareError, CompareSettings, compare_runs

PROG = "nscharacterize"


def _err(msg: str) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return 2


def _guard(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """One stderr line and exit 2 for the gate's own input errors (settings values, unreadable
    files); cli.main turns the project's user errors (CompareError, RunDirError, ...) the same way."""
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except BrokenPipeError:   # output piped into `head`: not an input error
            _quiet_stdout()
            return 0
        except ValidationError as exc:
            return _err(_pydantic_line(exc, getattr(args, "_settings_source", "compare settings")))
        except OSError as exc:
            return _err(f"{getattr(exc, 'filename', None) or 'file'}: io: {exc.strerror or exc}; check the path")
    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


def _quiet_stdout() -> None:
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _pydantic_line(exc, source: str) -> str:
    e = exc.errors()[0]
    key = "compare." + ".".join(str(x) for x in e.get("loc", ())) if e.get("loc") else "compare"
    return f"{source}: {key}: {e.get('msg', 'invalid')} (got {e.get('input')!r}); fix the value or remove the key"


# ---------------------------------------------------------------------------------------------
# Settings: defaults < the new run's config `compare:` section < --settings FILE < options
# ---------------------------------------------------------------------------------------------

# CompareSettings fields that have a command-line option (argparse dest = field name)
_OPTS = ("rel_threshold", "abs_floor_s", "alpha", "test", "share_points", "fail_on_share_shift")


def _add_threshold_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("thresholds (also config keys under `compare:`)")
    g.add_argument("--rel-threshold", dest="rel_threshold", type=float, metavar="FRAC", help="relative change a regression must exceed "
                   f"(default {CompareSettings().rel_threshold})")
    g.add_argument("--abs-floor", dest="abs_floor_s", type=float, metavar="SECONDS", help="absolute change per sample a regression "
                   f"must exceed (default {CompareSettings().abs_floor_s})")
    g.add_argument("--alpha", type=float, help=f"significance level (default {CompareSettings().alpha})")
    g.add_argument("--test", choices=["mannwhitney", "bootstrap"], help="significance test over per-sample values")
    g.add_argument("--share-points", type=float, metavar="PTS", help="category-share shift to flag, in points "
                   f"(default {CompareSettings().share_points})")
    g.add_argument("--fail-on-share-shift", action="store_true", default=None, help="exit 1 on a share shift too")
    g.add_argument("--settings", metavar="YAML", help="a YAML file whose `compare:` section sets thresholds")
    p.add_argument("--allow-env-change", action="store_true",
                   help="compare runs whose environment fingerprints differ (differences are printed)")


def _add_output_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output")
    g.add_argument("--format", choices=["terminal", "markdown", "json"], default="terminal", help="what stdout shows")
    g.add_argument("--markdown", metavar="PATH", help="also write the Markdown report (for a PR comment)")
    g.add_argument("--json", metavar="PATH", help="also write the JSON report")
    g.add_argument("--all", action="store_true", help="show every row, not only totals and changes")


def _add_ab_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("same-job A/B runs")
    g.add_argument("--rounds", type=int, default=2, help="rounds per side, interleaved ABBA (default 2)")
    g.add_argument("--samples", type=int, help="samples per round (passed to `nscharacterize run --samples`)")
    g.add_argument("--out", metavar="DIR", help="where the rounds and the merged runs go (default a temp dir)")


def _load_yaml(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CompareError(path, "file", "not found", "check the path") from None
    except yaml.YAMLError as exc:
        raise CompareError(path, "yaml", f"cannot be parsed ({str(exc).splitlines()[0]})", "fix the YAML") from None
    return data if isinstance(data, dict) else {}


def _section(cfg: dict, source: str) -> dict:
    sec = cfg.get("compare") if isinstance(cfg, dict) else None
    if sec is None:
        return {}
    if not isinstance(sec, dict):
        raise CompareError(source, "compare", f"must be a mapping, got {type(sec).__name__}",
                           "write `compare:` with keys such as rel_threshold")
    return sec


def resolve_settings(args: argparse.Namespace, run_config: dict | None = None, run_config_source: str = "") -> CompareSettings:
    merged: dict = {}
    sources = []
    if run_config:
        merged.update(_section(run_config, run_config_source))
        sources.append(run_config_source)
    if getattr(args, "settings", None):
        path = Path(args.settings)
        merged.update(_section(_load_yaml(path), str(path)))
        sources.append(str(path))
    for field in _OPTS:
        v = getattr(args, field, None)
        if v is not None:
            merged[field] = v
    args._settings_source = sources[-1] if sources else "options"
    return CompareSettings(**merged)


def _run_config(path: Path) -> dict:
    f = path / "config.yaml"
    if not f.is_file():
        return {}
    try:
        return _load_yaml(f)
    except CompareError:
        return {}


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------

def _emit(cmp, args: argparse.Namespace) -> int:
    from .reports import compare_render as R

    text = {"terminal": lambda: R.render_terminal(cmp, args.all), "markdown": lambda: R.render_markdown(cmp),
            "json": lambda: R.render_json(cmp)}[args.format]()
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:   # piped into `head`: the verdict still decides the exit code
        _quiet_stdout()
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(R.render_markdown(cmp))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(R.render_json(cmp))
    return cmp.exit_code


@_guard
def cmd_compare(args: argparse.Namespace) -> int:
    """compare BASE NEW | compare --baseline NAME NEW | compare --configs A B | compare --refs A B CONFIG"""
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
        return _ab_refs(args, args.refs[0], args.refs[1], Path(args.refs[2]))
    if args.baseline:
        if len(args.runs) != 1:
            raise CompareError("compare", "NEW_RUN", f"--baseline takes exactly one run, got {len(args.runs)}",
                               "use `compare --baseline NAME NEW_RUN`")
        base, new = baseline_store.path(args.baseline, args.store), Path(args.runs[0])
    else:
        if len(args.runs) != 2:
            raise CompareError("compare", "BASE_RUN NEW_RUN", f"expected two run directories, got {len(args.runs)}",
                               "use `compare BASE_RUN NEW_RUN` or `compare --baseline NAME NEW_RUN`")
        base, new = Path(args.runs[0]), Path(args.runs[1])
    settings = resolve_settings(args, _run_config(new), str(new / "config.yaml"))
    cmp = compare_runs(base, new, settings, allow_env_change=args.allow_env_change)
    return _emit(cmp, args)


def _ab(args: argparse.Namespace, config_a: Path, config_b: Path) -> int:
    from .reports import abrun

    from .config import load_config

    for c in (config_a, config_b):
        if not c.is_file():
            raise CompareError(c, "config", "not found", "pass the path of a config YAML")
        load_config(c)  # fail before any round runs (ConfigError words the file, key and fix)
    if args.rounds < 1:
        raise CompareError("--rounds", "rounds", f"must be at least 1, got {args.rounds}", "pass --rounds 2 or more")
    out = Path(args.out) if args.out else abrun.temp_dir()
    cwd = Path.cwd()
    side_a = abrun.Side("A", config_a.resolve(), cwd)
    side_b = abrun.Side("B", config_b.resolve(), cwd)
    a, b = abrun.interleave(side_a, side_b, args.rounds, args.samples, out, log=_log)
    return _compare_ab(args, a, b, allow_keys=("config_hash",))


def _ab_refs(args: argparse.Namespace, ref_a: str, ref_b: str, config: Path) -> int:
    from .reports import abrun

    if not config.is_file():
        raise CompareError(config, "config", "not found", "pass the path of a config YAML")
    if args.rounds < 1:
        raise CompareError("--rounds", "rounds", f"must be at least 1, got {args.rounds}", "pass --rounds 2 or more")
    repo = abrun.repo_root()
    out = Path(args.out) if args.out else abrun.temp_dir()
    out.mkdir(parents=True, exist_ok=True)
    tmp = abrun.temp_dir("nsc-refs-")
    try:
        with abrun.ref_side(repo, ref_a, "A", config.resolve(), tmp) as side_a, \
                abrun.ref_side(repo, ref_b, "B", config.resolve(), tmp) as side_b:
            a, b = abrun.interleave(side_a, side_b, args.rounds, args.samples, out.resolve(), log=_log)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return _compare_ab(args, a, b, allow_keys=())


def _compare_ab(args: argparse.Namespace, a: Path, b: Path, allow_keys: tuple[str, ...]) -> int:
    settings = resolve_settings(args, _run_config(b), str(b / "config.yaml"))
    _log(f"merged runs: A={a} B={b}")
    cmp = compare_runs(a, b, settings, allow_env_change=args.allow_env_change, allow_keys=allow_keys)
    return _emit(cmp, args)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@_guard
def cmd_ab(args: argparse.Namespace) -> int:
    """ab CONFIG_A CONFIG_B: run both interleaved in this job and compare (A = base, B = new)."""
    return _ab(args, Path(args.config_a), Path(args.config_b))


@_guard
def cmd_baseline(args: argparse.Namespace) -> int:
    if args.baseline_cmd == "save":
        dest = baseline_store.save(args.run, args.name, args.store, force=args.force)
        print(f"saved baseline {args.name!r} to {dest} (commit it; compare with "
              f"`nscharacterize compare --baseline {args.name} NEW_RUN`)")
        return 0
    if args.baseline_cmd == "list":
        for name in baseline_store.names(args.store):
            print(name)
        return 0
    if args.baseline_cmd == "rm":
        print(f"removed {baseline_store.remove(args.name, args.store)}")
        return 0
    raise CompareError("baseline", "command", "missing", "use `baseline save`, `baseline list` or `baseline rm`")


@_guard
def cmd_history(args: argparse.Namespace) -> int:
    from .reports import history
    from .reports.compare_render import fmt_time

    if args.history_cmd == "add":
        total = 0
        for run in args.runs:
            run_id, new = history.add(run, args.db)
            total += new
            print(f"{'added' if new else 'already in history'}: {run} (id {run_id}) -> {args.db}")
        return 0
    if args.history_cmd == "show":
        series = history.load_series(args.db, workload=args.workload,
                                     component=None if args.components else history.ALL, last=args.last)
        if args.category:
            series = [s for s in series if s.category in args.category]
        sys.stdout.write(history.render_trend(series, fmt_time))
        if series and args.plot != "none":
            print(f"trend plot: {history.plot_trend(series, args.plot)}")
        return 0
    raise CompareError("history", "command", "missing", "use `history add RUN` or `history show`")


# ---------------------------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------------------------

def _set(p: argparse.ArgumentParser, fn) -> None:
    p.set_defaults(handler=fn)


def register(subparsers) -> None:
    """Adds ``compare``, ``baseline``, ``history`` and ``ab`` to the CLI's subparsers."""
    p = subparsers.add_parser(
        "compare", help="compare two saved runs per category and gate on regressions (exit 0/1/2)",
        description="Compare per-category runtimes of two runs. Exit 0 when clean, 1 on a regression, 2 on bad input.")
    p.add_argument("runs", nargs="*", metavar="RUN", help="BASE_RUN NEW_RUN (or NEW_RUN with --baseline)")
    p.add_argument("--baseline", metavar="NAME", help="compare NEW_RUN against a saved baseline")
    p.add_argument("--store", default=str(baseline_store.DEFAULT_STORE), help="baseline store (default %(default)s)")
    p.add_argument("--configs", nargs=2, metavar=("A.yaml", "B.yaml"), help="run two configs interleaved and compare")
    p.add_argument("--refs", nargs=3, metavar=("REF_A", "REF_B", "CONFIG"),
                   help="run CONFIG with the code of two git refs, interleaved, and compare")
    _add_threshold_args(p)
    _add_output_args(p)
    _add_ab_args(p)
    _set(p, cmd_compare)

    p = subparsers.add_parser("ab", help="run two configs interleaved in this job and compare them",
                              description="Same-job A/B: ABBA rounds of both configs, merged per side, then compare.")
    p.add_argument("config_a", metavar="CONFIG_A", help="base config")
    p.add_argument("config_b", metavar="CONFIG_B", help="new config")
    _add_threshold_args(p)
    _add_output_args(p)
    _add_ab_args(p)
    _set(p, cmd_ab)

    p = subparsers.add_parser("baseline", help="save and list named baselines for compare --baseline")
    bsub = p.add_subparsers(dest="baseline_cmd", metavar="{save,list,rm}")
    s = bsub.add_parser("save", help="copy a run's compare files into the baseline store")
    s.add_argument("run", metavar="RUN")
    s.add_argument("--name", required=True)
    s.add_argument("--store", default=str(baseline_store.DEFAULT_STORE), help="default %(default)s")
    s.add_argument("--force", action="store_true", help="replace an existing baseline of that name")
    s = bsub.add_parser("list", help="list saved baselines")
    s.add_argument("--store", default=str(baseline_store.DEFAULT_STORE))
    s = bsub.add_parser("rm", help="remove a saved baseline")
    s.add_argument("name")
    s.add_argument("--store", default=str(baseline_store.DEFAULT_STORE))
    _set(p, cmd_baseline)

    from .reports.history import DEFAULT_DB

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
    s.add_argument("--last", type=int, help="only the last N runs")
    s.add_argument("--plot", default=str(Path(".nscharacterize") / "trend.png"),
                   help="trend plot PNG (default %(default)s; 'none' to skip)")
    _set(p, cmd_history)
