"""The run log: one directory per run, kept through a crash.

``meta.json``      run id, line config and recipe as loaded, software version, operator,
                   roll and lot ids, start and stop with an exit status (atomic writes).
``events.jsonl``   append-only event log: one JSON object a line with ``seq`` and ``crc32``;
                   a bad line is reported and reading goes on at the next one.
``samples/``       Arrow IPC *stream* segments (``seg-000001@T.arrows``), one record batch
                   per second of samples, each with a CRC-32 in its custom metadata; a
                   killed writer loses at most the batch in flight, the reader recovers
                   every intact batch and reports a torn tail and corrupt batches apart.
``samples.parquet`` the same samples, wide (one column per channel), written at a clean
                   close for pandas, polars and DuckDB.
``summary.json``   what ``runs list`` shows, with the files it was computed from.
"""
