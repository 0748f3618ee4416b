"""Replay at 1000x through the local API (issue 11: values per second delivered to a
client), against the Player alone on the same run, measured in the same run.

A run of 200 channels at 10 Hz (``--hours``, 2 by default: 72,000 rows, every value
changing each recorded second) is written with the real ``SegmentWriter`` as the run
log rolls it (``bench_seek``'s batches), with its ``meta.json`` (the embedded line) and
an empty event log. Then:

- baseline: the ``Player`` alone (``open_run``) at 1000x on the real monotonic clock,
  ``due(now)`` every 20 ms as the replay server steps it: rows and values per second it
  produces (every row read back through the seek index);
- served: a real ``linecontrol replay RUN --speed 1000`` on a Unix socket, one client
  reading ``/v1/stream`` raw (aiohttp): values per second delivered (the channel values
  in its ``values`` messages: coalesced at the stream's 4 Hz, only what changed), the
  messages per second, and the recorded seconds the client saw go by per real second.

The temporary directory is deleted at the end; the replay process is killed.

Run: python bench/bench_replay.py [--hours H]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_seek
import common  # noqa: F401

from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.replay import RowsDue, open_run
from linecontrol.runlog import Channel, RunMeta, SegmentWriter, segment_name
from linecontrol.runlog.meta import write_json_atomic

SPEED = 1000.0


def write_run(run: Path, hours: float) -> int:
    samples = run / "samples"
    samples.mkdir(parents=True)
    chans = [Channel(f"ch{i:03d}", "u") for i in range(bench_seek.CHANNELS)]
    seg: SegmentWriter | None = None
    number = rows = 0
    for b in bench_seek.batches(int(hours * 3600)):
        if seg is None or (
            seg.t_first is not None and b.t_mono[0] - seg.t_first >= bench_seek.SEGMENT_S
        ):
            if seg is not None:
                seg.close()
            number += 1
            seg = SegmentWriter(
                samples / segment_name(number, float(b.t_mono[0])), chans, fsync=False
            )
        seg.write(b)
        rows += len(b.t_mono)
    assert seg is not None
    seg.close()
    meta = RunMeta(
        run_id=run.name, line=load_line(DEFAULT_LINE).model_dump(mode="json"),
        channels=chans, start_wall=1.7e9, start_mono=0.0, stop_wall=1.7e9 + hours * 3600,
        stop_mono=hours * 3600, exit_status="complete",
    )  # fmt: skip
    write_json_atomic(run / "meta.json", meta.as_dict())
    (run / "events.jsonl").write_text("")
    return rows


def baseline(run: Path) -> tuple[float, float]:
    """Rows and values a second the Player alone produces at 1000x."""
    opened = open_run(run, time.monotonic(), speed=SPEED)
    player = opened.player
    rows = 0
    t0 = time.monotonic()
    while not player.finished:
        for item in player.due(time.monotonic()):
            if isinstance(item, RowsDue):
                rows += len(item.rows.t_mono)
        time.sleep(0.02)
    dt = time.monotonic() - t0
    return rows / dt, rows * bench_seek.CHANNELS / dt


async def served(run: Path, sock: Path) -> dict[str, float]:
    import aiohttp

    proc = subprocess.Popen(
        [sys.executable, "-m", "linecontrol", "replay", str(run), "--speed", str(SPEED),
         "--paused", "--socket", str(sock)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("linecontrol replay did not serve")
            await asyncio.sleep(0.05)
        conn = aiohttp.UnixConnector(path=str(sock))
        async with (
            aiohttp.ClientSession(connector=conn) as s,
            s.ws_connect("http://localhost/v1/stream", max_msg_size=0) as ws,
        ):
            body = {"command": "replay_resume", "request_id": "bench-1"}
            async with s.post("http://localhost/v1/commands", json=body) as reply:
                assert reply.status == 200, await reply.text()
            t0 = time.monotonic()
            values = messages = 0
            first_t = last_t = None
            async with asyncio.timeout(600):
                while True:
                    m = json.loads((await ws.receive()).data)
                    messages += 1
                    if m["type"] == "values":
                        values += len(m["values"])
                        first_t = m["t"] if first_t is None else first_t
                        last_t = m["t"]
                    if m["type"] == "full" and m["state"]["source"].get("finished"):
                        break
            dt = time.monotonic() - t0
        recorded = (last_t - first_t) if first_t is not None and last_t is not None else 0.0
        return {"values_s": values / dt, "messages_s": messages / dt, "x": recorded / dt,
                "seconds": dt}  # fmt: skip
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=2.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    try:
        run = tmp / "20260101-000000-bnch"
        rows = write_run(run, args.hours)
        print(f"run: {rows} rows x {bench_seek.CHANNELS} channels ({args.hours:g} h at 10 Hz)")
        rows_s, values_s = baseline(run)
        print(f"baseline, the Player alone at 1000x: {rows_s:,.0f} rows/s, "
              f"{values_s:,.0f} values/s produced")  # fmt: skip
        out = asyncio.run(served(run, tmp / "replay.sock"))
        print(f"served at 1000x, one client: {out['values_s']:,.0f} values/s delivered, "
              f"{out['messages_s']:,.1f} messages/s, {out['x']:,.0f} recorded s per s, "
              f"{out['seconds']:.1f} s to the end")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
