"""One schema per table: what the writers write is what the readers read back, CPU and GPU rows mixed.

Every table of a run directory is built by the code that writes it (the trace reader and
``events_frame`` for events, the profiler's and import-trace's ``TIMINGS`` rows, attribution, the
system view and the roofline) from a real CPU trace and a real H100 trace, written through
``RunDir`` and read back through the same schema. The CLI half is the case that crashed before the
schemas were one: importing a CPU trace together with a GPU trace."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from clirun import TESTS, printed_dir, run_cli
from pydantic import ValidationError

from nscharacterize.attribution.aggregate import attribute, breakdown
from nscharacterize.attribution.roofline import UNSIZED_COLUMNS, roofline
from nscharacterize.attribution.system import system_view
from nscharacterize.profiler import chrome_trace, trace_events
from nscharacterize.profiler.ceilings import datasheet_ceilings
from nscharacterize.profiler.events import events_frame, tagged
from nscharacterize.rundir import schemas
from nscharacterize.rundir import store as layout
from nscharacterize.rundir.errors import RunDirError
from nscharacterize.rundir.manifest import FINGERPRINT_KEYS, SCHEMA, Manifest, WorkloadRecord, mark_killed
from nscharacterize.rundir.store import RunDir, process_identity
from nscharacterize.taxonomy.classifier import Taxonomy

CPU_TRACE = TESTS / "fixtures" / "cpu-hta" / "rank-34.Jul_15_10_52_41.1074.pt.trace.json.gz"
GPU_TRACE = TESTS / "fixtures" / "gpu-h100" / "mlp-demo.encoder.0.json.gz"


def _measured() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Classified events and timings of one CPU and one CUDA call, as import-trace builds them."""
    frames, timings = [], []
    for path, component in ((CPU_TRACE, "cpu_rank"), (GPU_TRACE, "encoder")):
        trace = chrome_trace.load(path)
        device = "cuda" if len(trace.device) else "cpu"
        table, facts = trace_events.rows(trace, device)
        frames.append(tagged(table, workload="mixed", component=component, kind="imported", sample=0))
        span = facts.span_s
        timings.append({"workload": "mixed", "component": component, "kind": "imported", "profiler": "torch",
                        "device": device, "sample": 0, "wall_s": span, "wall_min_s": span, "wall_max_s": span,
                        "repeats": 0, "profiled_wall_s": span, "overhead": 1.0,
                        "peak_mem_bytes": trace_events.peak_added_bytes(trace, device),
                        "resident_mem_bytes": float("nan"), "kernel_launches": facts.kernel_launches,
                        "median_kernel_us": facts.median_kernel_us})
    return Taxonomy().classify_events(events_frame(frames)), schemas.TIMINGS.frame(timings)


def test_every_table_reads_back_as_written_cpu_and_gpu_mixed(tmp_path):
    events, timings = _measured()
    assert set(timings["device"]) == {"cpu", "cuda"}
    assert math.isnan(timings.loc[timings["device"] == "cpu", "median_kernel_us"].iloc[0])   # no kernels on CPU
    attribution = attribute(events, timings)
    result = breakdown(attribution.samples)
    table, unsized = roofline(events, result, datasheet_ceilings("NVIDIA H100 80GB HBM3"))
    written = {schemas.EVENTS: events, schemas.TIMINGS: timings, schemas.SAMPLES: attribution.samples,
               schemas.BREAKDOWN: result, schemas.CHECKS: attribution.checks,
               schemas.SYSTEM: system_view(attribution.samples), schemas.ROOFLINE: table}
    # every table of a run directory (memory, sparsity and counters: tests/app/test_beyond_time.py)
    assert set(written) | {schemas.MEMORY, schemas.SPARSITY, schemas.COUNTERS} == set(schemas.FILES.values())
    run = RunDir(tmp_path)
    readers = {schemas.EVENTS: run.events, schemas.TIMINGS: run.timings, schemas.SAMPLES: run.samples,
               schemas.BREAKDOWN: run.breakdown, schemas.CHECKS: run.checks, schemas.SYSTEM: run.system,
               schemas.ROOFLINE: run.roofline}
    for schema, frame in written.items():
        assert list(frame.columns) == schema.names, schema.file   # the writer builds exactly the schema
        assert len(frame), schema.file
        (run.write_parquet if schema.file.endswith(".parquet") else run.write_csv)(schema.file, frame)
        back = readers[schema]()
        assert list(back.columns) == schema.names, schema.file
        for col in schema.columns:       # every column read back with its kind
            kind = back[col.name].dtype
            if col.kind == schemas.STR:
                assert pd.api.types.is_string_dtype(kind) or isinstance(kind, pd.CategoricalDtype), col
            elif col.kind == schemas.BOOL:
                assert pd.api.types.is_bool_dtype(kind), col
            else:
                assert kind.kind in ("iu" if col.kind == schemas.INT and not col.nullable else "iuf"), col
        pd.testing.assert_frame_equal(_plain(back), _plain(frame), check_dtype=False, rtol=1e-12,
                                      obj=schema.file)
    assert unsized.columns.tolist() == UNSIZED_COLUMNS
    # the GPU row's kernel facts and the CPU row's empty ones survive the round trip as numbers
    back = run.timings().set_index("device")
    assert back.loc["cuda", "kernel_launches"] > 0 and back.loc["cuda", "median_kernel_us"] > 0
    assert back["median_kernel_us"].dtype.kind == "f"


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Text as object, numbers as float: the values, not the dtype a reader chose."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype.kind in "iuf" or out[col].dtype == bool:
            out[col] = out[col].astype("float64")
        else:
            out[col] = out[col].astype(object).where(out[col].notna(), "").astype(str)
    return out.reset_index(drop=True)


def test_a_table_of_an_older_run_gets_the_later_columns_filled_in(tmp_path):
    old = [c.name for c in schemas.TIMINGS.columns if c.required]
    pd.DataFrame([["w", "c", "neural", "torch", "cpu", 0, 1.0, 1.0, 1.0, 1, 1.2, 1.2, ""]], columns=old) \
        .to_csv(tmp_path / layout.TIMINGS, index=False)
    back = RunDir(tmp_path).timings()
    assert back.columns.tolist() == schemas.TIMINGS.names
    assert back[["resident_mem_bytes", "kernel_launches", "median_kernel_us"]].isna().all().all()
    pd.DataFrame([["w"]], columns=["workload"]).to_csv(tmp_path / layout.TIMINGS, index=False)
    with pytest.raises(RunDirError, match=r"timings.csv: columns: missing column\(s\) \['component'"):
        RunDir(tmp_path).timings()


def test_a_writer_cannot_add_a_column_the_schema_does_not_know():
    with pytest.raises(ValueError, match="not in its schema"):
        schemas.SAMPLES.frame([{**{c: 0 for c in schemas.SAMPLES.names}, "surprise": 1}])


def test_every_manifest_writer_builds_the_same_model(tmp_path):
    run = RunDir(tmp_path)
    manifest = Manifest(schema_=SCHEMA, run_id="r1", name="n", created="t", finished=None, status="running",
                        **process_identity(), seed=0, samples=2, warmup=1, repeats=1, fingerprint={"device": "cpu"},
                        checks={}, workloads=[WorkloadRecord(name="a", workload="mlp-demo", samples=2,
                                                             samples_done=1, status="running")])
    run.write_manifest(manifest)
    raw = json.loads((tmp_path / layout.MANIFEST).read_text())
    assert raw["finished"] is None and "ceilings" not in raw      # set to None: written; never set: absent
    assert run.read_manifest() == manifest and run.manifest == raw
    killed = mark_killed(run.read_manifest(), {"workloads": [{"workload": "a"}, {"name": "b", "workload": "x"}]})
    assert killed.status == "killed" and [w.status for w in killed.workloads] == ["killed", "not_run"]
    assert manifest.status == "running"     # the recovery does not change the manifest it read
    with pytest.raises(ValidationError):
        manifest.status = "done"            # assignments are checked too
    # every writer builds the model (the pipeline too): a dict is refused, not written
    with pytest.raises(TypeError, match="takes a Manifest"):
        run.write_manifest({**raw, "samples": "two"})
    assert run.read_manifest() == manifest  # nothing was written


def test_cli_imports_a_cpu_trace_together_with_a_gpu_trace(tmp_path):
    proc = run_cli("import-trace", str(CPU_TRACE), str(GPU_TRACE), "--out", str(tmp_path), "--name", "mixed")
    assert proc.returncode == 0, proc.stderr
    run = RunDir(printed_dir(proc))
    manifest = run.read_manifest()
    assert manifest.run_id and manifest.pid and manifest.host and manifest.status == "ok"
    assert set(run.timings()["device"]) == {"cpu", "cuda"}
    assert "## GPU busy and verdict" in (run.path / layout.TABLE).read_text()
    proc = run_cli("report", str(run.path))
    assert proc.returncode == 0, proc.stderr
    assert set(manifest.fingerprint) <= FINGERPRINT_KEYS and manifest.fingerprint["imported"] is True


def test_the_fingerprint_has_one_list_of_keys_for_its_writers_and_readers(tmp_path):
    """manifest.json's fingerprint keys are declared once (rundir/manifest.py ``Fingerprint``): a
    measured run's writer, the gate's default keys and the ceiling cache's machine fields use only
    those; a user's misspelt key is refused rather than never differing."""
    from nscharacterize.gate.settings import CompareSettings, validate
    from nscharacterize.gate.errors import CompareError
    from nscharacterize.profiler.ceilings import MACHINE_FIELDS
    from nscharacterize.profiler.environment import fingerprint

    measured = fingerprint("cpu", "0123456789abcdef")
    assert set(measured) <= FINGERPRINT_KEYS and measured["config_hash"] == "0123456789abcdef"
    assert set(CompareSettings().fingerprint_keys) <= FINGERPRINT_KEYS
    assert set(MACHINE_FIELDS) <= FINGERPRINT_KEYS
    with pytest.raises(CompareError, match="'cpu_modle' is no fingerprint key"):
        validate({"fingerprint_keys": ["torch", "cpu_modle"]})
