"""The run log on a disk that fails: at start, during the run, at stop; run ids."""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from linecontrol.model import RunLogRecovered
from linecontrol.runlog import (
    Channel,
    RunLog,
    RunLogError,
    RunMeta,
    check_data_dir,
    load_samples,
    new_run_id,
    read_events,
    run_listing,
)
from tests.runlog_child import batch


def _clock() -> tuple[float, float]:
    return time.monotonic(), time.time()


def _meta(run_id: str | None = None) -> RunMeta:
    return RunMeta(
        run_id=run_id or new_run_id(time.time()),
        line={},
        channels=[Channel("c0"), Channel("c1")],
        start_mono=0.0,
        start_wall=time.time(),
    )


class Inject:
    """Make ``open``/``os.open`` of paths under a directory fail with ``errno``
    (injected at the os level: tests run as root, whom permission bits do not stop)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.rules: list[tuple[Path, str, int]] = []
        real_os_open = os.open
        import builtins

        real_open = builtins.open

        def check(path: object) -> None:
            p = Path(os.fsdecode(path)) if isinstance(path, (str, bytes, os.PathLike)) else None
            for d, suffix, err in self.rules:
                if p is not None and str(p).startswith(str(d)) and p.name.endswith(suffix):
                    raise OSError(err, os.strerror(err), str(p))

        def os_open(path: object, *a: object, **k: object) -> int:
            check(path)
            return real_os_open(path, *a, **k)  # type: ignore[arg-type]

        def b_open(path: object, *a: object, **k: object) -> object:
            check(path)
            return real_open(path, *a, **k)  # type: ignore[call-overload]

        monkeypatch.setattr(os, "open", os_open)
        monkeypatch.setattr(builtins, "open", b_open)

    def fail(self, under: Path, suffix: str, err: int) -> None:
        self.rules.append((under, suffix, err))


@pytest.fixture
def inject(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inject]:
    yield Inject(monkeypatch)


async def test_a_full_disk_at_stop_is_an_error_not_a_crash_and_leaves_no_tmp(
    tmp_path: Path, inject: Inject
) -> None:
    log = RunLog(tmp_path, _meta(), clock=_clock)
    await log.start()
    for i in range(3):
        log.append(batch(i, 2))
    await log.drain()
    inject.fail(tmp_path, "meta.json.tmp", errno.ENOSPC)
    status = await log.stop("ok")  # must not raise
    assert status == "ok; run log errors: 1"
    assert [e["where"] for e in log.errors] == ["meta"]
    assert "No space left" in log.errors[0]["error"]
    assert not list(log.dir.glob("*meta.json.tmp"))  # a temp name of its own
    # The error is an event (the event log could still be written), then the stop.
    types = [e.type for e in read_events(log.dir / "events.jsonl").events]
    assert types[-2:] == ["RunLogError", "RunStopped"]
    # Every sample written is readable; the run lists as incomplete.
    assert load_samples(log.dir).batches == 3
    assert run_listing(log.dir)["exit_status"] == "incomplete (no stop recorded)"


async def test_a_read_only_run_directory_at_start_is_one_clear_error(
    tmp_path: Path, inject: Inject
) -> None:
    inject.fail(tmp_path, "meta.json.tmp", errno.EROFS)
    log = RunLog(tmp_path, _meta(), clock=_clock)
    with pytest.raises(RunLogError, match="Read-only file system") as got:
        await log.start()
    assert "\n" not in str(got.value)
    assert not log.dir.exists()  # nothing half-made left behind


def test_check_data_dir_finds_a_file_an_uncreatable_and_a_read_only_directory(
    tmp_path: Path, inject: Inject
) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(RunLogError, match="is not a directory"):
        check_data_dir(f)
    with pytest.raises(RunLogError, match="cannot be created"):
        check_data_dir(f / "sub")
    ro = tmp_path / "ro"
    ro.mkdir()
    inject.fail(ro, "", errno.EROFS)
    with pytest.raises(RunLogError, match="not writable: Read-only file system"):
        check_data_dir(ro)
    full = tmp_path / "full"
    full.mkdir()
    inject.fail(full, "", errno.ENOSPC)
    with pytest.raises(RunLogError, match="No space left"):
        check_data_dir(full)
    check_data_dir(tmp_path / "new" / "dir")  # created
    assert list((tmp_path / "new" / "dir").iterdir()) == []  # the probe is gone


async def test_a_disk_full_for_good_opens_no_segment_per_second_and_logs_one_error(
    tmp_path: Path,
) -> None:
    from linecontrol.runlog import SegmentWriter

    full = False

    def opener(path: Path, channels: list[Channel], fsync: bool) -> SegmentWriter:
        if full:  # as on a full disk: the file is created, its schema cannot be written
            path.touch()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return SegmentWriter(path, channels, fsync=fsync)

    # A new segment every second of samples: each batch needs a new file.
    log = RunLog(tmp_path, _meta(), clock=_clock, segment_s=1.0, opener=opener)
    await log.start()
    log.append(batch(0, 2))
    await log.drain()
    full = True
    for i in range(1, 30):  # 29 seconds of a full disk
        log.append(batch(i, 2))
    await log.drain()
    assert log.batches_lost == 29
    # (a closed segment has its seek index beside it: not a segment)
    assert [p.name[:10] for p in (log.dir / "samples").glob("seg-*.arrows")] == ["seg-000001"]
    full = False
    log.append(batch(30, 2))
    status = await log.stop("ok")
    assert status == "ok; run log errors: 1"
    names = sorted(p.name[:10] for p in (log.dir / "samples").glob("seg-*.arrows"))
    assert names == ["seg-000001", "seg-000002"]
    ev = read_events(log.dir / "events.jsonl").events
    assert len([e for e in ev if e.type == "RunLogError"]) == 1
    [rec] = [e.event for e in ev if isinstance(e.event, RunLogRecovered)]
    assert rec.batches_lost == 29
    assert load_samples(log.dir).batches == 2


async def test_two_runs_in_the_same_second_with_colliding_ids_both_record(tmp_path: Path) -> None:
    tokens = iter(["beef", "beef", "beef", "cafe"])

    def token() -> str:
        return next(tokens)

    wall = 1.8e9
    first = _meta(new_run_id(wall, token))
    second = _meta(new_run_id(wall, token))
    assert first.run_id == second.run_id  # a forced collision
    first.start_wall = second.start_wall = wall
    a = RunLog(tmp_path, first, clock=_clock, token=token)
    b = RunLog(tmp_path, second, clock=_clock, token=token)
    await a.start()
    await b.start()  # draws "beef" again, then "cafe"
    assert a.meta.run_id.endswith("-beef") and b.meta.run_id.endswith("-cafe")
    assert a.dir != b.dir and b.dir.name == b.meta.run_id
    a.append(batch(0, 2))
    b.append(batch(1, 2))
    await a.stop("ok")
    await b.stop("ok")
    for log in (a, b):
        assert load_samples(log.dir).batches == 1
        assert (
            RunMeta.from_dict(json.loads((log.dir / "meta.json").read_text())).run_id
            == log.dir.name
        )
