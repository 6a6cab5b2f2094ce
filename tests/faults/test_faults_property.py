"""Property: every reader of a file turns ANY content into a result or one user error, fast.

Generated, seeded inputs (random types in every field, deep nesting, 400-digit numbers, bad
encodings, truncated gzip, random CSV headers) go to the readers in this process: the Chrome
trace reader and the event builder, the config loader, rule files, every run-directory file and
sweep.json. Each call must return or raise a ``UserError`` (the trace reader: ``TraceError``,
which import-trace turns into one) within a few seconds; any other exception is a bug with a
traceback. A handful of CLI calls in subprocesses check the same end to end: one line, exit 2.
"""
from __future__ import annotations

import gzip
import json
import random
import shutil
import time

import pytest

from clirun import run_cli
from nscharacterize.core.errors import UserError

SEED = 25
LIMIT_S = 10.0   # per call; the shared machine is loaded, real calls take milliseconds


# ---- generated values ---------------------------------------------------------------------------------
def _text(rng: random.Random) -> str:
    pool = ["", "x", "aten::mm", "cpu_op", "kernel", "[memory]", "<script>", "\u0000", "\ud7ff\u00e9", "a" * 300,
            "::", ">", "|", "1e999", "NaN", "-", " ", "\n"]
    return rng.choice(pool) if rng.random() < 0.7 else "".join(chr(rng.randrange(32, 0x3000)) for _ in range(8))


def _json(rng: random.Random, depth: int = 0) -> str:
    """A JSON value as text, any type, sometimes huge or deeply nested."""
    roll = rng.random()
    if roll < 0.12:
        return str(rng.randrange(-10, 10**6))
    if roll < 0.18:
        return "9" * rng.choice([19, 20, 64, 400, 5000])
    if roll < 0.24:
        return rng.choice(["0.5", "-1e300", "1e308", "-0.0", "3.0"])
    if roll < 0.40:
        return json.dumps(_text(rng))
    if roll < 0.48:
        return rng.choice(["null", "true", "false"])
    if roll < 0.53:
        k = rng.choice([70, 300, 5000])
        return "[" * k + "]" * k
    if roll < 0.53 + (0.25 if depth < 3 else 0):
        return "[" + ", ".join(_json(rng, depth + 1) for _ in range(rng.randrange(0, 4))) + "]"
    if depth < 3:
        return "{" + ", ".join(f"{json.dumps(_text(rng))}: {_json(rng, depth + 1)}"
                               for _ in range(rng.randrange(0, 4))) + "}"
    return "1"


def _maybe(rng: random.Random, plausible: str) -> str:
    return plausible if rng.random() < 0.6 else _json(rng)


ARGS = ["External id", "correlation", "Input Dims", "Input type", "Concrete Inputs", "stream", "device",
        "Python id", "Python parent id", "Bytes", "Total Allocated", "Device Type"]


def _event(rng: random.Random) -> str:
    fields = {"ph": _maybe(rng, json.dumps(rng.choice(["X", "i", "X", "X"]))),
              "cat": _maybe(rng, json.dumps(rng.choice(["cpu_op", "kernel", "cuda_runtime", "python_function",
                                                        "user_annotation", "gpu_memcpy"]))),
              "name": _maybe(rng, json.dumps(rng.choice(["aten::mm", "aten::addmm", "aten::conv2d", "aten::cat",
                                                         "cudaLaunchKernel", "[memory]", "k", "a.py(1): f"]))),
              "ts": _maybe(rng, str(rng.randrange(0, 100))), "dur": _maybe(rng, str(rng.randrange(0, 50))),
              "tid": _maybe(rng, str(rng.randrange(1, 3))), "pid": _maybe(rng, "1")}
    plausible = {"Input Dims": "[[2, 3], [3, 4]]", "Input type": '["float", "float"]',
                 "Concrete Inputs": '["", "", "", "[1, 1]", "[0, 0]", "[1, 1]", "1"]'}
    args = {k: _maybe(rng, plausible.get(k, "1")) for k in ARGS if rng.random() < 0.4}
    if rng.random() < 0.9:
        fields["args"] = "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in args.items()) + "}" \
            if rng.random() < 0.85 else _json(rng)
    keep = {k: v for k, v in fields.items() if rng.random() < 0.92}
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in keep.items()) + "}"


def _trace_bytes(rng: random.Random) -> bytes:
    events = "[" + ", ".join(_event(rng) for _ in range(rng.randrange(0, 12))) + "]"
    roll = rng.random()
    if roll < 0.6:
        meta = {"deviceProperties": _maybe(rng, '[{"name": "NVIDIA H100 80GB HBM3"}]'),
                "cuda_runtime_version": _maybe(rng, "12010"), "schemaVersion": _maybe(rng, "1")}
        text = "{" + ", ".join(f'"{k}": {v}' for k, v in meta.items() if rng.random() < 0.7) \
            + (", " if True else "") + f'"traceEvents": {events}' + "}"
        text = text.replace("{, ", "{")
    elif roll < 0.75:
        text = events
    elif roll < 0.85:
        text = _json(rng)
    else:
        return rng.randbytes(rng.randrange(0, 200)) if rng.random() < 0.5 else \
            gzip.compress(events.encode())[: rng.randrange(1, 40)]
    data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.15:
        data = gzip.compress(data)
    return data


def _timed(call, *args):
    started = time.perf_counter()
    try:
        return call(*args)
    finally:
        assert time.perf_counter() - started < LIMIT_S, f"{call.__name__} took too long"


# ---- traces ------------------------------------------------------------------------------------------------
def test_any_trace_is_read_or_refused(tmp_path):
    """1200 generated traces, 150 from each of 8 seeds: one seed's 150 missed an integer beyond 64
    bits in an argument list and a Concrete Inputs that is no list, both crashes of the reader."""
    from nscharacterize.profiler import chrome_trace, trace_events

    outcomes = {"read": 0, "refused": 0}
    for i in range(1200):
        if i % 150 == 0:
            rng = random.Random(SEED + i // 150)
        path = tmp_path / f"t{i}.json"
        path.write_bytes(_trace_bytes(rng))
        try:
            trace = _timed(chrome_trace.load, path)
        except chrome_trace.TraceError:
            outcomes["refused"] += 1
            continue
        for device in ("cpu", "cuda"):
            table, facts = _timed(trace_events.rows, trace, device)
            assert facts.span_s >= 0, (path.read_bytes()[:300], facts)
        _timed(trace_events.peak_added_bytes, trace, "cpu")
        outcomes["read"] += 1
    assert outcomes["read"] > 160 and outcomes["refused"] > 80, outcomes  # the generator reaches both


# ---- configs and rule files ------------------------------------------------------------------------------
CONFIG_KEYS = {"name": '"p"', "seed": "0", "device": '"cpu"', "samples": "1", "warmup": "0", "repeats": "1",
               "threads": "1", "output": '"runs"',
               "workloads": '[{"workload": "mlp-demo", "params": {"objects": 2, "hidden": 4}}]',
               "profiler": '{"record_shapes": true}', "taxonomy": '{"rules": {}}', "compare": "{}",
               "sweep": '{"parameters": {"hidden": [4, 8]}}'}
WORKLOADS = ['"mlp-demo"', '"nope"', '"os:system"', '"fault_models:raises"', '"x:y:z"', "5", "null", '"a" ']


def _config_text(rng: random.Random) -> str:
    fields = {k: _maybe(rng, v) for k, v in CONFIG_KEYS.items() if rng.random() < 0.6}
    if rng.random() < 0.5:
        entry = {"workload": rng.choice(WORKLOADS), "params": _maybe(rng, "{}"),
                 "samples": _maybe(rng, "1"), "compile": _maybe(rng, "null"), "name": _maybe(rng, '"w"')}
        fields["workloads"] = "[{" + ", ".join(f'"{k}": {v}' for k, v in entry.items() if rng.random() < 0.7) + "}]"
    text = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
    roll = rng.random()
    if roll < 0.1:
        return "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n" \
               "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n" + \
               "e: [" + ", ".join(["*c"] * 60) + "]\n"
    if roll < 0.15:
        return "x: !!python/object/apply:os.system ['true']\n"
    if roll < 0.2:
        return "".join(chr(rng.randrange(0, 0x500)) for _ in range(200))
    return text


def test_any_config_is_loaded_or_refused(tmp_path):
    from nscharacterize.config import load_config

    rng = random.Random(SEED)
    outcomes = {"loaded": 0, "refused": 0}
    for i in range(120):
        path = tmp_path / f"c{i}.yaml"
        path.write_text(_config_text(rng), encoding="utf-8", errors="surrogatepass")
        try:
            _timed(load_config, path)
            outcomes["loaded"] += 1
        except UserError as exc:
            assert "\n" not in exc.line()
            outcomes["refused"] += 1
    assert outcomes["loaded"] >= 1 and outcomes["refused"] > 50, outcomes  # the generator reaches both


def test_any_rule_file_is_loaded_or_refused(tmp_path):
    from nscharacterize.taxonomy.rules import load_rules

    rng = random.Random(SEED)
    for i in range(80):
        rule = {"match": _maybe(rng, '"aten::x.*"'), "category": _maybe(rng, '"gemm"'),
                "reason": _maybe(rng, '"r"'), "within": _maybe(rng, '"aten::y"'), "id": _maybe(rng, '"i"')}
        body = "{" + ", ".join(f'"{k}": {v}' for k, v in rule.items() if rng.random() < 0.8) + "}"
        text = f'{{"namespace": {_maybe(rng, chr(34) + "ops" + chr(34))}, "rules": {_maybe(rng, "[" + body + "]")}}}'
        path = tmp_path / f"r{i}.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            _timed(load_rules, "ops", (path,))
        except UserError as exc:
            assert "\n" not in exc.line()


# ---- run directories and sweep.json ------------------------------------------------------------------------
def _csv_text(rng: random.Random, header: list[str]) -> str:
    cols = header if rng.random() < 0.6 else [_text(rng).replace(",", "") or "c" for _ in range(rng.randrange(1, 5))]
    lines = [",".join(cols)]
    for _ in range(rng.randrange(0, 5)):
        lines.append(",".join(rng.choice(["1", "x", "", "9" * 400, "1e999", "-1", "True", '"a,b"', "nan", _text(rng)])
                              for _ in cols))
    return "\n".join(lines) + ("\n" if rng.random() < 0.8 else "")


def test_any_run_directory_is_read_or_refused(demo_run, tmp_path):
    from nscharacterize.reports.sweep_report import load_sweep
    from nscharacterize.rundir.store import RunDir, effective_status

    rng = random.Random(SEED)
    run = tmp_path / "run"
    shutil.copytree(demo_run, run)
    original = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    headers = {name: list(__import__("pandas").read_csv(demo_run / name, nrows=0).columns)
               for name in ("timings.csv", "samples.csv", "breakdown.csv", "checks.csv")}
    readers = {"manifest.json": lambda r: effective_status(r.manifest), "config.yaml": lambda r: r.config,
               "timings.csv": RunDir.timings, "samples.csv": RunDir.samples, "breakdown.csv": RunDir.breakdown,
               "checks.csv": RunDir.checks, "events.parquet": RunDir.events}
    for _i in range(140):
        name = rng.choice(sorted(readers))
        path = run / name
        if name == "manifest.json":
            data = json.loads(original[name])
            for key in rng.sample(sorted(data), 3):
                data[key] = "__VALUE__"
            text = json.dumps(data).replace('"__VALUE__"', _json(rng), 1).replace('"__VALUE__"', _json(rng))
            path.write_text(text if rng.random() < 0.85 else _json(rng), encoding="utf-8", errors="surrogatepass")
        elif name == "config.yaml":
            path.write_text(_config_text(rng), encoding="utf-8", errors="surrogatepass")
        elif name == "events.parquet":
            data = original[name]
            path.write_bytes(data[: rng.randrange(len(data))] if rng.random() < 0.5 else rng.randbytes(300))
        else:
            path.write_text(_csv_text(rng, headers[name]), encoding="utf-8", errors="surrogatepass")
        if rng.random() < 0.05:
            path.unlink()
            path.mkdir()   # a folder where the file should be
        try:
            _timed(readers[name], RunDir(run))
        except UserError as exc:
            assert "\n" not in exc.line()
        if path.is_dir():
            path.rmdir()
        path.write_bytes(original[name])

    sweep = tmp_path / "s-sweep"
    sweep.mkdir()
    for _i in range(60):
        point = {"name": _maybe(rng, '"p"'), "params": _maybe(rng, "{}"), "status": _maybe(rng, '"ok"'),
                 "run_dir": _maybe(rng, '"points/p"'), "attempts": _maybe(rng, "1")}
        fields = {"kind": _maybe(rng, '"sweep"'), "name": _maybe(rng, '"s"'), "parameters": _maybe(rng, '{"n": [1]}'),
                  "x": _maybe(rng, '"n"'), "status": _maybe(rng, '"ok"'), "mode": _maybe(rng, '"grid"'),
                  "points": _maybe(rng, "[{" + ", ".join(f'"{k}": {v}' for k, v in point.items()) + "}]")}
        (sweep / "sweep.json").write_text("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}",
                                          encoding="utf-8", errors="surrogatepass")
        try:
            _timed(load_sweep, sweep)
        except UserError as exc:
            assert "\n" not in exc.line()


# ---- a handful of CLI calls, end to end ------------------------------------------------------------------
@pytest.mark.parametrize("doc,status", [
    ({"traceEvents": [{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 1, "dur": 3, "tid": [1, 2],
                       "args": {"Input Dims": "abc", "Input type": [1, None], "External id": 2**70}}],
      "deviceProperties": {"name": 5}}, 0),
    ('{"traceEvents": [{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 1, "dur": 3, "tid": 1, '
     '"args": {"Input Dims": [[123456789012345678901234567890, 2]], "Concrete Inputs": true}}]}', 0),
    ('{"traceEvents": [{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 1, "dur": 1, "tid": 1, '
     '"args": {"Input Dims": ' + "[" * 100_000 + "]" * 100_000 + "}}]}", 2),
], ids=["wrong-types", "beyond-64-bits", "args-100k-deep"])
def test_import_trace_of_a_hostile_trace(tmp_path, doc, status):
    path = tmp_path / "t.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    proc = run_cli("import-trace", str(path), "--out", str(tmp_path / "runs"), timeout=600)
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr
    if status == 2:
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "t.json" in lines[0] and "nested too deeply" in lines[0], lines
        assert not (tmp_path / "runs").exists()
    else:
        (run,) = [p for p in (tmp_path / "runs").iterdir()]
        assert (run / "report.html").is_file()
