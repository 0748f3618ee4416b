"""An unexpected error in the run-log writer thread (not an OSError: a bug, or a
library's own error) is a run-log error like a failed write; the writer goes on with
the next item and the stop completes. The thread died on it, and the stop then
waited for it for ever (a recorder that no signal could end, its simulator alive)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from linecontrol.runlog import Channel, RunLog, SegmentWriter, read_samples
from tests.integration.test_runlog_failures import _clock, _meta
from tests.runlog_child import batch


async def test_an_unexpected_writer_error_is_reported_and_the_stop_completes(
    tmp_path: Path,
) -> None:
    calls = 0

    def opener(path: Path, channels: list[Channel], fsync: bool) -> SegmentWriter:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug in the writer")
        return SegmentWriter(path, channels, fsync=fsync)

    async def body() -> str:
        log = RunLog(tmp_path, _meta(), clock=_clock, segment_s=1.0, opener=opener)
        await log.start()
        log.append(batch(0, 2))  # its segment cannot be opened: the unexpected error
        log.append(batch(1, 2))
        async with asyncio.timeout(30):  # the stop must complete (deadline: no hang)
            status = await log.stop("ok")
        assert [e["where"] for e in log.errors] == ["samples"]
        assert "RuntimeError: a bug in the writer" in log.errors[0]["error"]
        assert read_samples(log.dir / "samples").batches == 1  # the next batch is kept
        return status

    assert await body() == "ok; run log errors: 1"
