"""Append-only logs of a run in progress: each finished sample's rows are added to the end, and
no sample already saved is rewritten.

Why: rewriting events.parquet and timings.csv after every sample made a run cost the square of
its samples (800 samples of mlp-demo: 0.4 s of writing per sample; issue 23). Appending costs the
same for the 10,000th sample as for the first.

Format: an Arrow IPC *stream* per table (``events.arrows``, ``timings.arrows``), one record batch
per sample, written straight to the file descriptor (``pyarrow.OSFile``, no user-space buffer),
so a sample is on disk (in the page cache, which SIGKILL and the OOM killer do not lose) before
the next one starts. Its schema is the first sample's frame's; categorical columns keep their
categories per batch (a stream may replace a dictionary between batches).

A process killed in the middle of an append leaves a torn last batch: ``read_table`` keeps every
complete batch before it, so a sample is either whole in the log or absent. A log killed before
its schema was written reads as absent.

While a log exists it, not the table file, holds the rows (``RunDir.events``/``timings`` read
it): the run's end, or ``report`` on a killed run, compacts it into events.parquet / timings.csv
and only then removes it, so a reader never sees a sample twice or not at all.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa

EVENTS_LOG = "events.arrows"
TIMINGS_LOG = "timings.arrows"
LOGS = (EVENTS_LOG, TIMINGS_LOG)
ROW_GROUP_ROWS = 1 << 17     # rows per row group of the compacted events.parquet


class SampleLog:
    """One append-only table file, opened on the first append."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._sink: pa.OSFile | None = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._schema: pa.Schema | None = None

    def append(self, frame: pd.DataFrame) -> None:
        """Adds ``frame``'s rows as one batch (nothing for an empty frame)."""
        if frame.empty:
            return
        if self._writer is None:
            self._schema = _log_schema(pa.Schema.from_pandas(frame, preserve_index=False))
            self._sink = pa.OSFile(str(self.path), "wb")
            self._writer = pa.ipc.new_stream(self._sink, self._schema)
        writer = self._writer
        table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
        for batch in table.combine_chunks().to_batches():
            writer.write_batch(batch)

    def close(self) -> None:
        if self._writer is not None and self._sink is not None:
            self._writer.close()
            self._sink.close()
        self._writer = self._sink = None


def _log_schema(schema: pa.Schema) -> pa.Schema:
    """The first frame's schema, with every categorical column indexed by int32: a later sample
    may have more categories than the first one's int8 codes can hold."""
    fields = [pa.field(f.name, pa.dictionary(pa.int32(), f.type.value_type)) if pa.types.is_dictionary(f.type)
              else f for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


def batches(path: str | Path):
    """(schema, iterator of complete batches) of a log; (None, empty) when it has no readable
    schema (killed as it was created). Reading stops at a torn last batch."""
    try:
        reader = pa.ipc.open_stream(pa.OSFile(str(path), "rb"))
    except (OSError, pa.ArrowInvalid):
        return None, iter(())

    def complete():
        while True:
            try:
                yield reader.read_next_batch()
            except StopIteration:
                return
            except (OSError, pa.ArrowInvalid):   # a torn last append: the samples before it are whole
                return
    return reader.schema, complete()


def read_table(path: str | Path) -> pa.Table | None:
    """Every complete batch of a log as one table; None when the log has no readable schema."""
    schema, it = batches(path)
    if schema is None:
        return None
    return pa.Table.from_batches(list(it), schema=schema)


def read_frame(path: str | Path) -> pd.DataFrame | None:
    table = read_table(path)
    return None if table is None else table.to_pandas()


def compact_events(log: str | Path, tmp: str) -> int:
    """Writes the log's rows into the parquet file ``tmp`` in row groups of ``ROW_GROUP_ROWS``,
    holding one row group at a time; returns the rows written (-1: the log has no schema)."""
    import pyarrow.parquet as pq

    schema, it = batches(log)
    if schema is None:
        return -1
    rows, pending, held = 0, [], 0
    with pq.ParquetWriter(tmp, schema) as writer:
        for batch in it:
            pending.append(batch)
            held += batch.num_rows
            if held >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(pending, schema=schema))
                rows, pending, held = rows + held, [], 0
        if pending or rows == 0:
            writer.write_table(pa.Table.from_batches(pending, schema=schema))
            rows += held
    return rows


def remove(run_path: str | Path) -> None:
    """Removes the logs once their rows are in events.parquet and timings.csv (events first: a
    process killed between the two leaves a whole timings log beside a whole timings.csv)."""
    for name in LOGS:
        try:
            os.unlink(Path(run_path) / name)
        except FileNotFoundError:
            pass
