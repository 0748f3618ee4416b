"""``runs export``: wall times in ISO 8601, in CSV as in the rest of the CLI."""

from __future__ import annotations

import asyncio
import csv
import re
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from linecontrol.runlog.run import RunLog, RunMeta
from linecontrol.runlog.samples import Channel
from linecontrol.runlog.store import export
from tests.runlog_child import batch

pytestmark = pytest.mark.integration


def _run(root: Path) -> Path:
    async def body() -> Path:
        m = RunMeta(run_id="20260101-000000-aaaa", line={}, channels=[Channel("a")])
        log = RunLog(root, m, clock=lambda: (time.monotonic(), time.time()))
        await log.start()
        for i in range(2):
            log.append(batch(i, 1))
        await log.stop("ok")
        return log.dir

    return asyncio.run(body())


ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def test_csv_wall_times_are_iso_8601_and_parquet_keeps_a_timestamp(tmp_path: Path) -> None:
    run = _run(tmp_path)
    out = tmp_path / "x.csv"
    rows = export(run, out, "csv")
    with out.open(newline="") as f:
        walls = [r["t_wall"] for r in csv.DictReader(f)]
    assert len(walls) == rows > 0
    # "2026-12-01 19:29:11.134706Z" (a space) was pyarrow's default, not ISO 8601.
    assert [w for w in walls if not ISO.fullmatch(w)] == []
    pq_out = tmp_path / "x.parquet"
    export(run, pq_out, "parquet")
    assert str(pq.read_schema(pq_out).field("t_wall").type) == "timestamp[us, tz=UTC]"
