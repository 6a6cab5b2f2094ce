"""Sweeps: one normal run per point of a parameter grid, gathered in one sweep directory.

Each point runs in a process of its own (the driver never imports a workload): one after another
in subprocesses of the CLI (``serial``, the default), or as Ray tasks (``ray``) on a local
instance or an existing cluster, each task in its own worker process claiming one GPU or the
configured CPU cores. A point's run directory comes back to the driver as a tar archive, so a
cluster's workers need no shared disk. A point whose process dies is tried once more, then
recorded as failed; the other points are kept. ``sweep.json`` is rewritten after every point, so
an interrupted sweep keeps what finished, and ``nscharacterize report SWEEP_DIR`` renders it.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from nscharacterize.config import Config, ConfigError, point_config, point_name  # noqa: F401 (point_name: API)
from nscharacterize.core.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from nscharacterize.core.fileio import atomic_write, atomic_write_text, dump_yaml
from nscharacterize.rundir import store
from nscharacterize.rundir.errors import RunDirError
from nscharacterize.rundir.manifest import SCHEMA, Manifest, mark_killed, parse_manifest

EXECUTORS = ("serial", "ray")
ATTEMPTS = 2            # a point whose process dies is retried once
EXIT_PARTIAL = EXIT_FAILED   # a point whose run lost a workload: its run directory is kept
EXIT_TIMEOUT = 124           # a point stopped by point_timeout_s (as timeout(1) exits)
STOP_GRACE_S = 30            # after SIGTERM a point has this long to record what it measured, then SIGKILL


@dataclass
class PointResult:
    rc: int                   # the CLI's exit status (negative: killed by that signal)
    archive: bytes | None     # tar.gz of the run directory, None if none was written
    log_tail: str             # the end of the CLI's stderr
    seconds: float | None = None  # the point's own run, timed where it ran (not its wait in a queue)


def run_point(config_yaml: str, device: str | None, threads_env: dict | None = None,
              timeout_s: float | None = None) -> PointResult:
    """Runs one point through the CLI in a subprocess and returns its run directory as a tar.gz.
    A point that runs past ``timeout_s`` is stopped (SIGTERM, so it records what it measured, then
    SIGKILL) and returned with status ``EXIT_TIMEOUT``. When the driver itself is stopped, the
    point is stopped the same way and the stop is raised again with the point's result attached
    (``point_result``), so that the driver keeps what the point measured. Either way the point's
    own manifest says why it stopped (``_settle``), never ``running``.

    Module-level and free of driver state, so a Ray worker can run it as it is.
    """
    with tempfile.TemporaryDirectory(prefix="nsc-point-") as tmp:
        cfg = Path(tmp) / "point.yaml"
        cfg.write_text(config_yaml, encoding="utf-8")
        cmd = [sys.executable, "-m", "nscharacterize.cli", "run", str(cfg), "--out", str(Path(tmp) / "out"), "--quiet"]
        if device:
            cmd += ["--device", device]
        env = {**os.environ, **(threads_env or {})}
        started = time.perf_counter()
        ended = _run_bounded(cmd, env, timeout_s)
        seconds = time.perf_counter() - started
        runs = sorted((Path(tmp) / "out").glob("*/")) if (Path(tmp) / "out").is_dir() else []
        archive = None
        if runs:
            _settle(runs[-1], ended, env)
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as tar:
                tar.add(runs[-1], arcname="run")
            archive = buf.getvalue()
        result = PointResult(ended.proc.returncode, archive, ended.proc.stderr[-2000:], seconds)
        if ended.stop is not None:
            ended.stop.point_result = result  # type: ignore[attr-defined]  # the driver keeps its run directory
            raise ended.stop
        return result


@dataclass
class _Ended:
    """How a point's process ended."""

    proc: subprocess.CompletedProcess
    stopped: str | None = None          # why the driver stopped it; None when it ended by itself
    stop: BaseException | None = None   # the driver's own stop, raised again once the point is saved


def _run_bounded(cmd: list[str], env: dict, timeout_s: float | None) -> _Ended:
    """The point's CLI process; past ``timeout_s``, or when the driver itself is stopped, it gets
    SIGTERM (its run is then marked interrupted, with every finished sample) and, STOP_GRACE_S
    later, SIGKILL."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = proc.communicate(timeout=timeout_s)
        return _Ended(subprocess.CompletedProcess(cmd, proc.returncode, out, err))
    except subprocess.TimeoutExpired:
        out, err, killed = _stop(proc)
        return _Ended(subprocess.CompletedProcess(cmd, EXIT_TIMEOUT, out, (err or "") +
                                                  f"\nthe point ran past point_timeout_s ({timeout_s:g} s)"),
                      f"the sweep stopped this point: it ran past point_timeout_s ({timeout_s:g} s){killed}")
    except BaseException as exc:  # the driver is stopping (Ctrl-C, SIGTERM): the point stops with it, in order
        out, err, killed = _stop(proc)
        return _Ended(subprocess.CompletedProcess(cmd, proc.returncode, out or "", err or ""),
                      f"the sweep was stopped while this point ran{killed}", exc)


def _stop(proc: subprocess.Popen) -> tuple[str, str, str]:
    """SIGTERM, then SIGKILL if the point has not ended STOP_GRACE_S later: (stdout, stderr, a
    note when it had to be killed)."""
    proc.terminate()
    try:
        out, err = proc.communicate(timeout=STOP_GRACE_S)
        return out or "", err or "", ""
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return out or "", err or "", f" (it did not stop within {STOP_GRACE_S} s of SIGTERM and was killed)"


def _settle(run: Path, ended: _Ended, env: dict) -> None:
    """The point's own manifest once its process has ended, when the point could not say why it
    stopped: a point the driver stopped says ``interrupted`` with the driver's reason; a point
    whose process was killed before its final record (SIGKILL after the grace period, the OOM
    killer) is first put in order by ``nscharacterize report``, which marks it ``killed`` and
    rebuilds its tables from every saved sample. A point that ended by itself is left as it wrote
    itself."""
    path = run / store.MANIFEST
    manifest = _read_manifest(path)
    if manifest is None or (ended.stopped is None and manifest.status != "running"):
        return
    if manifest.status == "running":  # gone before its final record: no handler could run
        try:
            subprocess.run([sys.executable, "-m", "nscharacterize.cli", "report", str(run)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        except (OSError, subprocess.SubprocessError):
            pass
        manifest = _read_manifest(path)
        if manifest is None:
            return
        if manifest.status == "running":  # report could not: the status is made honest at least
            manifest = mark_killed(manifest, {})
    if manifest.status not in ("killed", "interrupted"):  # it finished, and wrote so, as it was stopped
        return
    rc = ended.proc.returncode
    why = ended.stopped or (f"the point's process was killed by signal {-rc}" if rc < 0 else
                            f"the point's process ended (exit status {rc}) before its final record")
    manifest.error = f"{manifest.error}; {why}" if manifest.error else why
    if ended.stopped:
        manifest.status = "interrupted"
        for w in manifest.workloads:
            if w.status in ("running", "killed"):
                w.status, w.error = "interrupted", why
    manifest.finished = manifest.finished or _now()
    try:
        store.RunDir(run).write_manifest(manifest)
    except OSError:
        pass


def _read_manifest(path: Path) -> Manifest | None:
    """A point's manifest, typed; None when it is missing or not one this version reads (it is
    then left as it is)."""
    data = _read_json(path)
    if data is None:
        return None
    try:
        return parse_manifest(path, data)
    except RunDirError:
        return None


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


class SerialExecutor:
    """Points one by one, each in a subprocess of the CLI."""

    name = "serial"

    def __init__(self, timeout_s: float | None = None):
        self.timeout_s = timeout_s

    def map(self, jobs: list[tuple[str, str]], device: str | None, cpus: int,
            on_done: Callable[[str, PointResult | BaseException], None]) -> None:
        for key, config_yaml in jobs:
            try:
                result = run_point(config_yaml, device, timeout_s=self.timeout_s)
            except Exception as exc:  # the subprocess could not even start
                on_done(key, exc)
                continue
            except BaseException as stop:  # the driver is stopping: name the point it stopped
                if hasattr(stop, "point_result"):
                    stop.point_key = key  # type: ignore[attr-defined]
                raise
            on_done(key, result)

    def close(self) -> None:
        pass


class RayExecutor:
    """Points as Ray tasks: each in its own worker process, one GPU or ``cpus`` cores each."""

    name = "ray"

    def __init__(self, address: str | None, num_cpus: int | None, timeout_s: float | None = None):
        self.timeout_s = timeout_s
        try:
            import ray
        except ImportError:
            raise ConfigError(None, "--executor ray", "Ray is not installed",
                              "pip install -e '.[ray]' (or pip install ray)") from None
        self.ray = ray
        self.started = time.perf_counter()
        kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                      configure_logging=False)
        try:
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=num_cpus, **kwargs)
        except (ConnectionError, RuntimeError, Exception) as exc:  # Ray raises bare Exception on start-up timeouts
            where = f"the cluster at {address}" if address else "a local Ray instance"
            raise ConfigError(None, "--executor ray", f"could not start or reach {where} "
                              f"({str(exc).splitlines()[0][:200]})",
                              "check --ray-address, or retry when the machine is less loaded") from None
        self.startup_s = time.perf_counter() - self.started

    def map(self, jobs, device, cpus, on_done) -> None:
        ray = self.ray
        resources = {"num_gpus": 1, "num_cpus": 1} if device == "cuda" else {"num_cpus": cpus}
        remote = ray.remote(max_retries=0, **resources)(run_point)
        env = {"OMP_NUM_THREADS": str(cpus)}
        pending = {remote.remote(cfg, device, env, self.timeout_s): key for key, cfg in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            key = pending.pop(done[0])
            try:
                on_done(key, ray.get(done[0]))
            except Exception as exc:  # the worker died (RayTaskError, WorkerCrashedError, ...)
                on_done(key, exc)

    def close(self) -> None:
        self.ray.shutdown()


def make_executor(name: str, address: str | None = None, num_cpus: int | None = None,
                  timeout_s: float | None = None):
    if name == "ray":
        return RayExecutor(address, num_cpus, timeout_s)
    return SerialExecutor(timeout_s)


def sweep(config: Config, config_path: str, *, executor: str = "serial", ray_address: str | None = None,
          ray_cpus: int | None = None, device: str | None = None, out: str | None = None,
          log: Callable[[str], None] = lambda msg: None) -> Path:
    """Runs every point of ``config.sweep``; returns the sweep directory."""
    if config.sweep is None:
        raise ConfigError(config_path, "sweep", "missing", "add a sweep: block with parameters (see docs/guide/sweeps.md)")
    name = config.name or Path(config_path).stem
    sweep_dir = store.create_run_path(out or config.output, f"{name}-sweep")
    points = config.sweep.points()
    cpus = config.threads or 1
    manifest: dict[str, Any] = {"schema": SCHEMA, "kind": "sweep", "sweep_id": uuid.uuid4().hex, "name": name,
                "config_file": str(config_path), "created": _now(), "finished": None, "status": "running",
                "executor": executor, "ray_address": ray_address, "device": device or config.device,
                "parameters": config.sweep.parameters, "mode": config.sweep.mode, "x": config.sweep.x_parameter,
                "points": []}
    atomic_write_text(sweep_dir / store.SWEEP_CONFIG, dump_yaml(config.resolved()))
    (sweep_dir / store.SWEEP_POINTS).mkdir()
    jobs: list[tuple[str, str]] = []
    records: dict[str, dict[str, Any]] = {}
    for values in points:
        key = point_name(values)
        cfg = point_config(config, values)
        cfg["name"] = f"{name}-{key}" if len(f"{name}-{key}") <= store.MAX_NAME else key  # key: checked by the config
        text = dump_yaml(cfg)
        records[key] = {"name": key, "params": values, "status": "pending", "run_dir": None, "attempts": 0,
                        "error": None, "seconds": None, "config": text}
        manifest["points"].append(records[key])
        jobs.append((key, text))
    _write_manifest(sweep_dir, manifest)
    ex = make_executor(executor, ray_address, ray_cpus, config.sweep.point_timeout_s)
    if executor == "ray":
        manifest["ray_startup_s"] = round(ex.startup_s, 3)

    def on_done(key: str, result) -> None:
        rec = records[key]
        rec["attempts"] += 1
        # the point's own run (its last attempt), not the time since the sweep began
        rec["seconds"] = round(result.seconds, 3) if isinstance(result, PointResult) and result.seconds is not None else None
        if isinstance(result, PointResult) and result.archive is not None and result.rc in (EXIT_OK, EXIT_PARTIAL):
            target = sweep_dir / store.SWEEP_POINTS / key
            _extract(result.archive, target)
            rec.update(status="ok" if result.rc == EXIT_OK else "partial", run_dir=f"{store.SWEEP_POINTS}/{key}",
                       error=None if result.rc == EXIT_OK else "a workload failed; see its run.log")
        else:
            died = not isinstance(result, PointResult) or result.rc not in (EXIT_OK, EXIT_PARTIAL, EXIT_USAGE,
                                                                             EXIT_TIMEOUT)
            rec["error"] = _describe(result)
            if died and rec["attempts"] < ATTEMPTS:
                rec["status"] = "retrying"
                log(f"point {key}: {rec['error']}; retrying once")
                _write_manifest(sweep_dir, manifest)
                ex.map([(key, rec["config"])], device, cpus, on_done)
                return
            rec["status"] = "failed"
            if isinstance(result, PointResult) and result.archive is not None:  # keep what it measured
                _extract(result.archive, sweep_dir / store.SWEEP_POINTS / key)
                rec["run_dir"] = f"{store.SWEEP_POINTS}/{key}"
        took = f" ({rec['seconds']:.1f} s)" if rec["seconds"] is not None else ""
        log(f"point {key}: {rec['status']}{took}")
        _write_manifest(sweep_dir, manifest)

    try:
        ex.map(jobs, device, cpus, on_done)
        failed = [r for r in manifest["points"] if r["status"] != "ok"]
        manifest["status"] = "ok" if not failed else "failed" if len(failed) == len(points) else "partial"
    except KeyboardInterrupt as stop:
        manifest["status"] = "interrupted"
        kept, stopped = getattr(stop, "point_result", None), getattr(stop, "point_key", None)
        if stopped in records and isinstance(kept, PointResult) and kept.archive is not None:
            _extract(kept.archive, sweep_dir / store.SWEEP_POINTS / stopped)  # what the stopped point measured
            records[stopped].update(run_dir=f"{store.SWEEP_POINTS}/{stopped}",
                                    seconds=round(kept.seconds or 0, 3))
        for rec in manifest["points"]:  # no point is left pending or running by a stopped driver
            if rec["status"] in ("pending", "retrying"):
                rec.update(status="interrupted", error="the sweep was stopped before this point finished")
        raise
    finally:
        ex.close()
        manifest["finished"] = _now()
        _write_manifest(sweep_dir, manifest)
        report_sweep(sweep_dir)
    return sweep_dir


def report_sweep(sweep_dir: str | Path) -> list[Path]:
    """A sweep's report from whatever points finished: the scaling table derived here
    (``attribution.scaling``) and written as scaling.csv, then drawn by ``reports.sweep_report``
    (table.md, scaling.png, report.html), which computes nothing. Also ``report SWEEP_DIR``."""
    from nscharacterize.attribution.scaling import scaling_table
    from nscharacterize.reports.sweep_report import load_sweep, render_sweep

    sweep_dir = Path(sweep_dir)
    manifest = load_sweep(sweep_dir)
    table = scaling_table(finished_points(sweep_dir, manifest), manifest["x"])
    written = [atomic_write(sweep_dir / store.SCALING, lambda tmp: table.to_csv(tmp, index=False))]
    return written + render_sweep(sweep_dir, manifest, table)


def finished_points(sweep_dir: Path, manifest: dict) -> list:
    """The points with samples (``attribution.scaling.Point``): those that ran to a status and
    wrote their tables; a point killed before it wrote them is left out."""
    from nscharacterize.attribution.scaling import Point

    points = []
    for rec in manifest["points"]:
        if not rec.get("run_dir") or rec.get("status") not in ("ok", "partial", "failed"):
            continue
        run = store.RunDir(sweep_dir / rec["run_dir"])
        try:
            samples = run.samples()
        except RunDirError:
            continue
        if len(samples):
            points.append(Point(dict(rec["params"]), samples))
    return points


def _describe(result) -> str:
    if isinstance(result, PointResult):
        if result.rc < 0:
            return f"the point's process was killed by signal {-result.rc}"
        last = [ln for ln in result.log_tail.splitlines() if ln.strip()]
        return f"exit status {result.rc}" + (f": {last[-1][:300]}" if last else "")
    return f"{type(result).__name__}: {str(result).splitlines()[0][:300] if str(result) else ''}"


def _extract(archive: bytes, target: Path) -> None:
    import shutil

    if target.exists():
        shutil.rmtree(target)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(tmp, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(tmp)
        os.replace(Path(tmp) / "run", target)


def _write_manifest(sweep_dir: Path, manifest: dict) -> None:
    public = {**manifest, "points": [{k: v for k, v in p.items() if k != "config"} for p in manifest["points"]]}
    atomic_write_text(sweep_dir / store.SWEEP_MANIFEST, json.dumps(public, indent=2, default=str) + "\n")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
