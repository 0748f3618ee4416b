"""The run log: one directory per run, kept through a crash.

``meta.json``      run id, line config and recipe as loaded, software version, operator,
                   roll and lot ids, start and stop with an exit status (atomic writes).
``events.jsonl``   append-only event log: one JSON object a line with ``seq`` and ``crc32``;
                   a bad line is reported and reading goes on at the next one.
``samples/``       Arrow IPC *stream* segments (``seg-000001@T.arrows``), one record batch
                   per second of samples, each with a CRC-32 in its custom metadata; a
                   killed writer loses at most the batch in flight, the reader recovers
                   every intact batch and reports a torn tail and corrupt batches apart.
``samples/seg-....arrows.idx`` the seek index of each segment (``index``): per batch its
                   byte offset, times and positions; ``RunSamples`` (``seek``) reads one
                   batch by offset to seek to a time or a metre.
``samples.parquet`` the same samples, wide (one column per channel), written at a clean
                   close for pandas, polars and DuckDB.
``summary.json``   what ``runs list`` shows, with the files it was computed from.

Other rooms import from ``linecontrol.runlog``, not its modules."""

from linecontrol.model import Batch, Channel
from linecontrol.runlog.events import Events, EventWriter, decode_line, encode_event, read_events
from linecontrol.runlog.index import DamagedIndex, SegmentIndex, load_index
from linecontrol.runlog.meta import MalformedMeta, RunMeta, iso_utc, write_json_atomic
from linecontrol.runlog.run import RunLog, RunLogError, check_data_dir, data_root, new_run_id
from linecontrol.runlog.samples import (
    DamagedSchema,
    Samples,
    SegmentRead,
    SegmentWriter,
    read_samples,
    read_segment,
    segment_name,
    segment_paths,
)
from linecontrol.runlog.seek import RunSamples, SeekPoint, build_index, segment_index
from linecontrol.runlog.store import (
    DataRootError,
    RunNotFound,
    RunSummary,
    check_root,
    compact_to_parquet,
    export,
    find_run,
    finish_run,
    list_runs,
    load_events,
    load_meta,
    load_samples,
    read_meta,
    run_listing,
    summarize,
    write_summary,
)

__all__ = [
    "Batch",
    "Channel",
    "DamagedIndex",
    "DamagedSchema",
    "DataRootError",
    "EventWriter",
    "Events",
    "MalformedMeta",
    "RunLog",
    "RunLogError",
    "RunMeta",
    "RunNotFound",
    "RunSamples",
    "RunSummary",
    "Samples",
    "SeekPoint",
    "SegmentIndex",
    "SegmentRead",
    "SegmentWriter",
    "build_index",
    "check_data_dir",
    "check_root",
    "compact_to_parquet",
    "data_root",
    "decode_line",
    "encode_event",
    "export",
    "find_run",
    "finish_run",
    "iso_utc",
    "list_runs",
    "load_events",
    "load_index",
    "load_meta",
    "load_samples",
    "new_run_id",
    "read_events",
    "read_meta",
    "read_samples",
    "read_segment",
    "run_listing",
    "segment_index",
    "segment_name",
    "segment_paths",
    "summarize",
    "write_json_atomic",
    "write_summary",
]
