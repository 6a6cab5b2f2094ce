"""The append-only sample logs (nscharacterize/rundir/samplelog.py): what is appended reads back
whole, a torn last append loses that sample alone, and the compacted parquet file holds the same
rows as the log, with the same dtypes."""
from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq

from nscharacterize.profiler.events import events_frame
from nscharacterize.rundir import samplelog, store
from nscharacterize.rundir.store import RunDir
from nscharacterize.taxonomy.classifier import Taxonomy


def _sample(s: int, names: int = 3) -> pd.DataFrame:
    rows = [{"workload": "w", "component": "c", "kind": "neural", "sample": s, "source": "op", "device": "cpu",
             "name": f"aten::op{i}", "calls": 1, "self_cpu_us": float(i + s), "input_dtypes": "float"}
            for i in range(names)]
    return Taxonomy().classify_events(events_frame([rows]))


def _log(path, frames) -> None:
    log = samplelog.SampleLog(path)
    for f in frames:
        log.append(f)
    log.close()


def test_appended_samples_read_back_whole(tmp_path):
    frames = [_sample(0), _sample(1, names=300), _sample(2)]
    _log(tmp_path / "e.arrows", frames)
    got = samplelog.read_frame(tmp_path / "e.arrows")
    want = pd.concat(frames, ignore_index=True)
    assert len(got) == len(want) == 306
    assert list(got.columns) == list(want.columns)
    assert isinstance(got["category"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(got.astype({c: str for c in ("category", "subcategory", "rule")}),
                                  want.astype({c: str for c in ("category", "subcategory", "rule")}))


def test_a_later_sample_may_have_more_categories_than_the_first(tmp_path):
    first = pd.DataFrame({"rule": pd.Categorical(["a", "b"]), "sample": [0, 0]})          # int8 codes
    later = pd.DataFrame({"rule": pd.Categorical([f"r{i}" for i in range(300)]), "sample": 1})
    _log(tmp_path / "x.arrows", [first, later])
    got = samplelog.read_frame(tmp_path / "x.arrows")
    assert got["rule"].astype(str).tolist() == ["a", "b"] + [f"r{i}" for i in range(300)]


def test_a_torn_last_append_loses_that_sample_alone(tmp_path):
    path = tmp_path / "e.arrows"
    log = samplelog.SampleLog(path)
    log.append(_sample(0))
    log.append(_sample(1))
    whole = path.stat().st_size
    log.append(_sample(2))
    log.close()
    data = path.read_bytes()
    for cut in (whole + 8, whole + (len(data) - whole) // 2, len(data) - 12):   # killed mid-append
        path.write_bytes(data[:cut])
        assert set(samplelog.read_frame(path)["sample"]) == {0, 1}, cut
    path.write_bytes(data[:20])   # killed while the schema was written: no rows, not an error
    assert samplelog.read_frame(path) is None


def test_rundir_reads_the_log_while_it_exists_then_the_compacted_files(tmp_path):
    run = RunDir.create(tmp_path, "r")
    frames = [_sample(s) for s in range(5)]
    run.write_parquet(store.EVENTS, _sample(99).iloc[:0])      # the empty file a run starts with
    events, timings = run.sample_logs()
    for s, f in enumerate(frames):
        events.append(f)
        timings.append(pd.DataFrame([{"workload": "w", "component": "c", "kind": "neural", "profiler": "torch",
                                      "device": "cpu", "sample": s, "wall_s": 1e-3, "wall_min_s": 1e-3,
                                      "wall_max_s": 1e-3, "repeats": 1, "profiled_wall_s": 2e-3, "overhead": 2.0,
                                      "peak_mem_bytes": float("nan")}]))
    assert set(run.events()["sample"]) == set(run.timings()["sample"]) == set(range(5))   # while running
    events.close()
    timings.close()
    old = samplelog.ROW_GROUP_ROWS
    samplelog.ROW_GROUP_ROWS = 6                               # several row groups
    try:
        assert run.compact_events_log() == 15
    finally:
        samplelog.ROW_GROUP_ROWS = old
    assert pq.ParquetFile(run.path / store.EVENTS).metadata.num_row_groups == 3
    logged = run.events()                                      # still from the log: it is not removed yet
    run.write_csv(store.TIMINGS, run.timings())
    run.drop_logs()
    assert not run.has_logs()
    compacted = run.events()
    assert list(compacted.dtypes) == list(logged.dtypes)
    pd.testing.assert_frame_equal(compacted, logged)
    assert set(run.timings()["sample"]) == set(range(5))
