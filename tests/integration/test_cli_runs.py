"""``linecontrol record --sim`` and ``linecontrol runs ...`` as a user runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from linecontrol.config import RECIPES

pytestmark = pytest.mark.integration


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linecontrol", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_record_a_simulated_line_then_list_show_export(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rec = cli(
        "record",
        "--sim",
        "--duration",
        "2",
        "--operator",
        "ana",
        "--roll-id",
        "R-17",
        "--recipe",
        str(RECIPES / "001-ex1.toml"),
        env={"LINECONTROL_DATA": str(data)},
    )
    assert rec.returncode == 0, rec.stderr
    run_id = rec.stdout.strip()
    assert (data / run_id / "meta.json").is_file()
    meta = json.loads((data / run_id / "meta.json").read_text())
    assert meta["exit_status"] == "ok" and meta["operator"] == "ana" and meta["roll_id"] == "R-17"
    assert meta["recipe"]["recipe"]["name"] == "001-ex1"
    assert meta["line"]["line"]["name"] == "FCCL line 1 (simulated)"

    listing = cli("runs", "--data-dir", str(data), "list")
    assert listing.returncode == 0 and run_id in listing.stdout

    show = cli("runs", "--data-dir", str(data), "show", run_id[:15], "--json")
    assert show.returncode == 0, show.stderr
    s = json.loads(show.stdout)
    assert s["exit_status"] == "ok" and 15 <= s["rows"] <= 25 and s["channels"] == 191
    assert "zone_C07.temp_pv_c" in s["time_in_band"]
    assert s["event_counts"]["CommandGiven"] == 1
    text = cli("runs", "--data-dir", str(data), "show", run_id).stdout
    assert "time in band" in text and "produced" in text

    out = tmp_path / "x.parquet"
    exp = cli(
        "runs",
        "--data-dir",
        str(data),
        "export",
        run_id,
        "--format",
        "parquet",
        "--channels",
        "press.top_temp_pv_c,drive.speed_pv_m_min",
        "--from",
        "0.5",
        "--output",
        str(out),
    )
    assert exp.returncode == 0, exp.stderr
    df = pd.read_parquet(out)
    assert list(df.columns) == [
        "t_s",
        "t_wall",
        "web_position_m",
        "press.top_temp_pv_c",
        "drive.speed_pv_m_min",
        "press.top_temp_pv_c.quality",
        "drive.speed_pv_m_min.quality",
    ]
    assert df["t_s"].min() >= 0.5
    assert (df["press.top_temp_pv_c.quality"] == 0).sum() > 0
    assert (
        df.loc[df["press.top_temp_pv_c.quality"] == 0, "press.top_temp_pv_c"].between(20, 30).all()
    )  # the rolls sit at ambient: nothing heats them without the supervisor


def test_bad_input_to_record_and_runs(tmp_path: Path) -> None:
    bad = cli(
        "record",
        "--sim",
        "--duration",
        "1",
        "--data-dir",
        str(tmp_path),
        "--recipe",
        str(RECIPES / "001-comp1.toml"),
    )
    assert bad.returncode == 1 and "nothing recorded" in bad.stderr
    assert not any(tmp_path.iterdir())
    assert cli("record", "--duration", "nan", "--data-dir", str(tmp_path)).returncode == 2
    assert cli("record", "--duration", "-1", "--data-dir", str(tmp_path)).returncode == 2
    low = cli("record", "--duration", "1", "--sample-hz", "0", "--data-dir", str(tmp_path))
    assert low.returncode == 2 and "--sample-hz = 0: must be above 0" in low.stderr
    missing = cli("runs", "--data-dir", str(tmp_path), "show", "nope")
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr
    assert "no runs under" in cli("runs", "--data-dir", str(tmp_path), "list").stdout


def _no_traceback(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout, p.stderr


def test_an_unusable_data_dir_is_one_line_before_the_simulator_starts(tmp_path: Path) -> None:
    f = tmp_path / "a-file"
    f.write_text("x")
    for data in (f, f / "below-a-file"):
        # --sim with a long start would show: the check comes before anything starts.
        rec = cli("record", "--sim", "--duration", "30", "--data-dir", str(data), timeout=60)
        _no_traceback(rec)
        assert rec.returncode == 2, rec.stderr
        [line] = rec.stderr.strip().splitlines()
        assert line.startswith("error: the data directory") and "nothing recorded" in line
        assert rec.stdout == ""


async def test_record_before_the_simulator_starts_checks_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from linecontrol.config import DEFAULT_LINE, load_line
    from linecontrol.recording import recorder as recmod
    from linecontrol.runlog import RunLogError

    started: list[object] = []

    async def fake_start_child(argv: list[str], **kwargs: object) -> None:
        started.append(argv)
        raise AssertionError("the simulator must not start")

    monkeypatch.setattr(recmod, "start_child", fake_start_child)
    f = tmp_path / "file"
    f.write_text("")
    opts = recmod.RecordOptions(
        config=DEFAULT_LINE, line=load_line(DEFAULT_LINE), duration_s=1, data_dir=f, sim=True
    )
    with pytest.raises(RunLogError, match="is not a directory"):
        await recmod.record(opts)
    assert started == []


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ")


def _not_logged(stderr: str) -> list[str]:
    """The command's own report: standard error without the log lines."""
    return [ln for ln in stderr.strip().splitlines() if not LOG_LINE.match(ln)]


def test_record_with_no_device_answering_fails_with_a_device_summary(tmp_path: Path) -> None:
    # No --sim and no hardware: nothing answers on the configured addresses.
    rec = cli("record", "--duration", "1.5", "--data-dir", str(tmp_path))
    _no_traceback(rec)
    assert rec.returncode == 4, rec.stderr
    run_id = rec.stdout.strip()
    lines = _not_logged(rec.stderr)  # each device's failure is also a log line
    assert len(lines) == 2, lines
    assert lines[0].startswith("devices: 0 of ") and "drive never answered (" in lines[0]
    assert lines[1] == f"error: run {run_id} ended: ok; devices failed: 28 of 28 never answered"
    meta = json.loads((tmp_path / run_id / "meta.json").read_text())
    assert meta["exit_status"] == "ok; devices failed: 28 of 28 never answered"
    show = cli("runs", "--data-dir", str(tmp_path), "show", run_id)
    assert "devices: 0 of 28 answered" in show.stdout
    # Channels that never had a value are WAITING, not STALE faults.
    assert "28 channels" not in show.stdout
    assert "channels never had a value (WAITING throughout)" in show.stdout
    assert "channels with STALE or INVALID" not in show.stdout
    s = json.loads(cli("runs", "--data-dir", str(tmp_path), "show", run_id, "--json").stdout)
    assert s["quality"]["drive.speed_pv_m_min"]["STALE"] == 0
    assert s["quality"]["drive.speed_pv_m_min"]["WAITING"] == s["rows"] > 0


def _fake_run(root: Path, name: str, *, meta: str | None = "ok") -> Path:
    """A small closed run, written by the run log itself."""
    import asyncio
    import time

    from linecontrol.runlog import Channel, RunLog, RunMeta
    from tests.runlog_child import batch

    async def body() -> Path:
        m = RunMeta(run_id=name, line={}, channels=[Channel("a"), Channel("b")], start_wall=1.8e9)
        log = RunLog(root, m, clock=lambda: (time.monotonic(), time.time()))
        await log.start()
        for i in range(3):
            log.append(batch(i, 2))
        await log.stop("ok")
        return log.dir

    d = asyncio.run(body())
    if meta is None:
        (d / "meta.json").unlink()
    elif meta != "ok":
        (d / "meta.json").write_text(meta)
    return d


def test_runs_list_shows_every_run_it_can_and_recovers_one_without_metadata(
    tmp_path: Path,
) -> None:
    _fake_run(tmp_path, "20260101-000000-aaaa")
    _fake_run(tmp_path, "20260101-000001-bbbb", meta='{"run_id": "x", "line": ')  # malformed
    _fake_run(tmp_path, "20260101-000002-cccc", meta=None)  # missing
    listing = cli("runs", "--data-dir", str(tmp_path), "list")
    _no_traceback(listing)
    assert listing.returncode == 0, listing.stderr
    rows = {ln.split()[0]: ln for ln in listing.stdout.splitlines()[1:]}
    assert set(rows) == {"20260101-000000-aaaa", "20260101-000001-bbbb", "20260101-000002-cccc"}
    for name in ("20260101-000001-bbbb", "20260101-000002-cccc"):
        assert "30 " in rows[name] and "recovered from samples and events" in rows[name]
    assert "meta.json unreadable" in rows["20260101-000001-bbbb"]
    assert "meta.json missing" in rows["20260101-000002-cccc"]
    # A run that cannot be read at all is reported; the others are still listed.
    (tmp_path / "20260101-000003-dddd" / "events.jsonl").mkdir(parents=True)
    listing = cli("runs", "--data-dir", str(tmp_path), "list")
    _no_traceback(listing)
    assert listing.returncode == 3
    assert len(listing.stdout.splitlines()) == 4  # the header and the three runs
    [err] = listing.stderr.strip().splitlines()
    assert err.startswith("error: run 20260101-000003-dddd cannot be read:")
    # Recovered from the events: the stop and its status.
    show = cli("runs", "--data-dir", str(tmp_path), "show", "20260101-000002", "--json")
    s = json.loads(show.stdout)
    assert s["exit_status"] == "ok" and s["rows"] == 30 and s["channels"] == 2
    assert s["start_utc"].startswith("20")


def test_runs_list_reads_no_sample_of_a_closed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa

    from linecontrol.runlog import store

    d = _fake_run(tmp_path, "20260101-000000-aaaa")
    assert (d / "summary.json").is_file()  # written at the stop
    calls: list[object] = []
    real = pa.ipc.open_stream

    def counting(source: object, *a: object, **k: object) -> object:
        calls.append(source)  # every read of a segment opens it as a stream
        return real(source, *a, **k)

    monkeypatch.setattr(pa.ipc, "open_stream", counting)
    listing = store.run_listing(d)
    assert calls == [] and listing["rows"] == 30 and listing["exit_status"] == "ok"
    # A changed run (here: a segment appended to) is rebuilt from its samples.
    with open(next((d / "samples").glob("seg-*.arrows")), "ab") as f:  # not its index
        f.write(b"\xff\xff\xff\xff")
    listing = store.run_listing(d)
    assert calls and listing["rows"] == 30


def test_runs_cli_times_windows_and_output_paths(tmp_path: Path) -> None:
    d = _fake_run(tmp_path, "20260101-000000-aaaa")
    # An error event, so that show prints an alarm line with its time.
    from linecontrol.model import DeviceFailed
    from linecontrol.runlog import EventWriter

    w = EventWriter(d / "events.jsonl", fsync=False)
    w.seq = 10
    w.append(1.0, 1.8e9 + 1.25, DeviceFailed(device="x", state="failing", error="TimeoutError"))
    w.close()
    show = cli("runs", "--data-dir", str(tmp_path), "show", d.name)
    assert "  2027-01-15T08:00:01.250+00:00 DeviceFailed" in show.stdout
    listing = cli("runs", "--data-dir", str(tmp_path), "list")
    assert "2027-01-15T08:00:00Z" in listing.stdout
    exp = ("runs", "--data-dir", str(tmp_path), "export", d.name, "--format", "csv")
    for a, b in (("2", "1"), ("1", "1")):
        bad = cli(*exp, "--from", a, "--to", b, "-o", str(tmp_path / "x.csv"))
        _no_traceback(bad)
        assert bad.returncode == 2 and "must be before --to" in bad.stderr
    for out, want in (
        (tmp_path / "missing" / "x.csv", "does not exist"),
        (tmp_path, "is a directory"),
    ):
        bad = cli(*exp, "-o", str(out))
        _no_traceback(bad)
        [line] = bad.stderr.strip().splitlines()
        assert bad.returncode == 2 and want in line
    ok = cli(*exp, "--from", "0.5", "--to", "1.5", "-o", str(tmp_path / "x.csv"))
    assert ok.returncode == 0 and ok.stdout.startswith("10 rows")
    for args in (("list",), ("show", "x"), ("export", "x", "--format", "csv")):
        gone = cli("runs", "--data-dir", str(tmp_path / "nonexistent"), *args)
        _no_traceback(gone)
        assert gone.returncode == 2
        assert (
            gone.stderr.strip()
            == f"error: the data directory {tmp_path / 'nonexistent'} does not exist"
        )


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the child in /proc")
def test_record_whose_simulator_is_killed_mid_run_ends_with_devices_failed(
    tmp_path: Path,
) -> None:
    import signal
    import time

    argv = ["record", "--sim", "--duration", "8", "--data-dir", str(tmp_path)]
    rec = subprocess.Popen(
        [sys.executable, "-m", "linecontrol", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        # Until the run has samples on disk: the line answered.
        while not list(tmp_path.glob("*/samples/seg-*")):
            assert time.monotonic() < deadline and rec.poll() is None
            time.sleep(0.05)
        [sim] = _children(rec.pid)
        os.kill(sim, signal.SIGKILL)
        out, err = rec.communicate(timeout=60)
    finally:
        if rec.poll() is None:
            rec.kill()
            rec.communicate()
    assert rec.returncode == 4, err
    assert "Traceback" not in err
    run_id = out.strip()
    meta = json.loads((tmp_path / run_id / "meta.json").read_text())
    # Every device that was polled after the kill (all, unless the machine is slow).
    assert re.fullmatch(r"ok; devices failed: \d+ of 28 failing at the end", meta["exit_status"])
    assert "failing at the end" in _not_logged(err)[0]


def test_the_simulators_log_reaches_records_log_through_their_stderr(tmp_path: Path) -> None:
    """The simulated line's stderr is read for as long as it runs (a pipe nobody reads
    fills and then freezes the simulators at their next log line) and each of its lines
    goes into record's own log at the level the line names."""
    rec = cli(
        "record",
        "--sim",
        "--duration",
        "1",
        "--log-level",
        "info",
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert rec.returncode == 0, rec.stderr
    relayed = [ln for ln in rec.stderr.splitlines() if " linecontrol.record.sim: " in ln]
    assert any("INFO linecontrol.record.sim:" in ln and "serving" in ln for ln in relayed), (
        rec.stderr
    )
    assert any("stopped" in ln for ln in relayed), rec.stderr
