"""``runs export`` and ``runs show``: wall times in ISO 8601, as in the rest of the CLI."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from linecontrol.runlog import Channel, RunLog, RunMeta, export
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
ISO_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00")


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


def test_runs_show_gives_every_alarm_time_in_iso_8601_and_counts_those_not_printed(
    tmp_path: Path,
) -> None:
    # No simulator: the 28 devices of the embedded line never answer, each an alarm.
    env = {**os.environ, "LINECONTROL_DATA": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "linecontrol", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )

    rec = cli("record", "--duration", "1")
    assert rec.returncode == 4, rec.stderr
    run_id = rec.stdout.strip()
    data = json.loads(cli("runs", "show", run_id, "--json").stdout)
    alarms = data["alarms"]
    assert len(alarms) > 20
    # Beside the epoch seconds of the event, its time as every other time of the CLI.
    assert [a for a in alarms if not ISO_OFFSET.fullmatch(a.get("time_utc", ""))] == []
    text = cli("runs", "show", run_id).stdout
    assert f"alarms    {len(alarms)}" in text
    assert f"  ... {len(alarms) - 20} more (runs show --json lists them all)" in text
