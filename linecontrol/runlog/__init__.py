"""The run log: one directory per run, kept through a crash.

``meta.json``      run id, line config and recipe as loaded, software version, operator,
                   roll and lot ids, start and stop with an exit status (atomic writes).
``events.jsonl``   append-only event log: one JSON object a line with ``seq`` and ``crc32``.
``samples/``       Arrow IPC *stream* segments (``seg-000001.arrows``), one record batch
                   per second of samples; a killed writer loses at most the batch in flight
                   and the reader recovers every complete batch and reports the torn tail.
``samples.parquet`` the same samples, wide (one column per channel), written at a clean
                   close for pandas, polars and DuckDB.
"""
