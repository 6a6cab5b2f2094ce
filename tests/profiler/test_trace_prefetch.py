"""The trace decode worker (nscharacterize/profiler/trace_prefetch.py): what a worker process hands
back is what this process would have decoded, its errors are the reader's errors, a worker that dies
costs only its overlap, and import-trace gives the same run directory with or without workers.

The worker checks run in a fresh interpreter: a fork is made only where no other thread runs, and
a pytest process (xdist's workers) may have some."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from clirun import ROOT, run_cli

from nscharacterize.profiler import chrome_trace
from nscharacterize.profiler.trace_decode import Coded, decode

FIXTURES = ROOT / "tests" / "fixtures" / "gpu-h100"
TRACES = sorted(FIXTURES.glob("*.json.gz"))


def fresh(code: str, *args: str) -> dict:
    """Runs ``code`` in a fresh python (single-threaded, so workers are forked); its last line as JSON."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def same_columns(a, b) -> bool:
    """Two Decoded objects hold the same columns."""
    for table in ("host", "device", "python", "memory"):
        x, y = getattr(a, table), getattr(b, table)
        if x.keys() != y.keys():
            return False
        for key in x:
            u, v = x[key], y[key]
            if isinstance(u, Coded):
                if not (np.array_equal(u.codes, v.codes) and u.values == v.values):
                    return False
            elif not np.array_equal(u, v):
                return False
    return a.metadata == b.metadata and a.unread == b.unread


def test_a_worker_decodes_what_this_process_decodes_and_its_failures_read_the_same(tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"traceEvents": [{"ph": "X", "name": ')
    out = fresh("""
        import json, os, pickle, sys
        from nscharacterize.profiler.trace_prefetch import Prefetch
        from nscharacterize.profiler.trace_decode import TraceError
        answers = []
        for path in sys.argv[1:]:
            job = Prefetch(path)
            forked = job._pid > 0
            try:
                answers.append([forked, "ok", pickle.dumps(job.result()).hex()])
            except TraceError as exc:
                answers.append([forked, "error", str(exc)])
        print(json.dumps({"answers": answers, "pandas": "pandas" in sys.modules}))
    """, str(TRACES[0]), str(TRACES[-1]), str(bad))
    (f0, k0, d0), (f1, k1, d1), (f2, k2, message) = out["answers"]
    assert f0 and f1 and f2, "each file was decoded in a forked worker"
    assert (k0, k1, k2) == ("ok", "ok", "error")
    assert same_columns(pickle.loads(bytes.fromhex(d0)), decode(TRACES[0]))
    assert same_columns(pickle.loads(bytes.fromhex(d1)), decode(TRACES[-1]))
    try:
        decode(bad)
    except chrome_trace.TraceError as exc:
        assert message == str(exc) and "invalid JSON" in message
    else:
        raise AssertionError("the truncated file decoded")
    assert not out["pandas"], "the decode path imported pandas"


def test_a_killed_worker_costs_its_overlap_not_the_file_and_leaves_no_process_behind():
    out = fresh("""
        import json, os, signal, sys
        from nscharacterize.profiler.trace_prefetch import Prefetch, Prefetcher
        job = Prefetch(sys.argv[1])
        os.kill(job._pid, signal.SIGKILL)          # out of memory, or killed by hand
        fallback = job.result()
        files = Prefetcher(sys.argv[1:])
        first = files.take(0)                        # the second file now decodes ahead
        pending = files._ahead[1]._pid
        files.close()                                # not wanted (an earlier file failed): stopped and reaped
        try:
            os.waitpid(pending, os.WNOHANG)
            reaped = False
        except ChildProcessError:
            reaped = True
        print(json.dumps({"fallback_hosts": len(fallback.host["ts"]), "first_hosts": len(first.host["ts"]),
                          "pending": pending, "reaped": reaped}))
    """, str(TRACES[0]), str(TRACES[1]))
    assert out["fallback_hosts"] == out["first_hosts"] == len(decode(TRACES[0]).host["ts"]) > 0
    assert out["pending"] > 0 and out["reaped"]


def test_without_a_worker_the_same_columns_come_from_this_process(monkeypatch):
    from nscharacterize.profiler import trace_prefetch

    monkeypatch.setenv(trace_prefetch.WORKER_VARIABLE, "0")
    job = trace_prefetch.Prefetch(TRACES[0])
    assert job._pid < 0
    assert same_columns(job.result(), decode(TRACES[0]))


def test_the_tables_from_columns_are_the_tables_of_the_trace():
    """``load`` is ``tables(decode(path))``: a GPU trace's host ops nest, its kernels find their
    launching op, and equal names stay one shared text object."""
    trace = chrome_trace.tables(decode(FIXTURES / "nscl.image_parser.0.json.gz"))
    assert len(trace.host) and len(trace.device)
    assert (trace.device["launcher"] >= 0).mean() > 0.9
    assert trace.host["name"].dtype == object and trace.host["source"].isin(["op", "runtime", "annotation"]).all()
    names = trace.host["name"]
    first = names[names == names.iloc[0]]
    assert len({id(x) for x in first}) == 1


def test_import_trace_writes_the_same_tables_with_and_without_the_worker(tmp_path):
    files = [str(p) for p in TRACES[:3]]
    with_worker = run_cli("import-trace", *files, "--out", str(tmp_path / "a"), "--quiet")
    without = run_cli("import-trace", *files, "--out", str(tmp_path / "b"), "--quiet",
                      env={"NSCHARACTERIZE_TRACE_WORKER": "0"})
    assert with_worker.returncode == 0, with_worker.stderr
    assert without.returncode == 0, without.stderr
    a, b = Path(with_worker.stdout.split()[-1]), Path(without.stdout.split()[-1])
    for name in ("breakdown.csv", "timings.csv", "samples.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(a / name), pd.read_csv(b / name))
    pd.testing.assert_frame_equal(pd.read_parquet(a / "events.parquet"), pd.read_parquet(b / "events.parquet"))


def test_import_trace_imports_neither_the_gate_nor_torch():
    """The command's own parser only: the gate's pydantic models (70 ms) and torch are not on its path."""
    out = fresh("""
        import contextlib, io, json, sys, tempfile
        from nscharacterize.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            rc = main(["import-trace", sys.argv[1], "--out", tempfile.mkdtemp(), "--quiet"])
        print(json.dumps({"rc": rc, "gate": "nscharacterize.gate_cli" in sys.modules, "torch": "torch" in sys.modules}))
    """, str(TRACES[0]))
    assert out == {"rc": 0, "gate": False, "torch": False}


def test_a_failed_import_leaves_no_worker_behind(tmp_path):
    """The first file decodes but holds no activity: the import stops with its error while the
    second file is decoding ahead in a worker; that worker is stopped and reaped, not left behind."""
    empty = tmp_path / "empty.json"
    empty.write_text('{"traceEvents": [{"ph": "M", "name": "process_name", "args": {"name": "x"}}]}')
    out = fresh("""
        import json, os, sys
        from nscharacterize.import_trace import import_traces
        from nscharacterize.core.errors import UserError
        try:
            import_traces(sys.argv[1:3], out=sys.argv[3])
            error = None
        except UserError as exc:
            error = exc.line()
        try:
            left = os.waitpid(-1, os.WNOHANG)[0]   # 0: a child still runs; a pid: one was not reaped
        except ChildProcessError:
            left = None
        print(json.dumps({"error": error, "left": left}))
    """, str(empty), str(TRACES[-1]), str(tmp_path / "runs"))
    assert out["error"] and "no host ops and no device activity" in out["error"]
    assert out["left"] is None


def test_a_missing_file_is_one_line_and_exit_2(tmp_path):
    done = run_cli("import-trace", str(TRACES[-1]), str(tmp_path / "missing.json.gz"), "--out", str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert "missing.json.gz: no such file" in done.stderr and "Traceback" not in done.stderr
