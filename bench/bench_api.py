"""The local API and the TUI, measured (issue 10).

The line is the embedded default on its simulators (``--sim``: 191 channels at 10 Hz),
served in this process with the same pieces ``linecontrol serve`` wires
(``open_line``, ``Hub``, ``ApiServer``), so its acquisition's poll lateness can be read;
tests/integration/data/fault-run.toml (004 Example 1, 200 m) is loaded, Reset and
Started. Two sessions: the round trips at ``--speedup`` (300: Execute is reached in
seconds), the load rounds at speed-up 1 (lateness in real time), after ``--settle`` s.

1. Load, in interleaved rounds (the baseline: the same line with no client, measured in
   the same run): the acquisition's poll lateness (a poll's start minus its due time,
   every device) p50 and p99 with no client, then with two TUIs and one script
   streaming ``/v1/stream``. Each TUI is ``linecontrol tui`` in a child process on a
   pseudo-terminal of a fixed size (80x24 and a larger one), its output read and
   thrown away by a small relay process of its own; the streaming script is an
   ``ApiClient`` following a ``LineView`` in its own process. Target: p99 within 10 %
   of the no-client figure.
2. Each TUI's CPU over the same windows (utime + stime from /proc, percent of one
   core). Target: under 15 %.
3. Command round trip: ``hold`` then ``unhold`` over POST /v1/commands, many times;
   from the request sent to the first ``StateChanged`` event the command caused on a
   stream this process follows (Execute -> Holding, Held -> Unholding), median and p99,
   and the HTTP reply time alone.

Run: python bench/bench_api.py [--seconds 20] [--rounds 3] [--reps 30] [--sizes 80x24,200x60]
[--speedup 300] [--warmup 3] [--settle 30] [--skip-load] [--skip-rtt]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import fcntl
import os
import pty
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

import common
import numpy as np

from linecontrol.api import Address, ApiClient, LineView, api_schema
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.recording import (
    LineSession,
    LineSetup,
    make_safe,
    open_line,
    take_state_lock,
)
from linecontrol.runlog import check_data_dir
from linecontrol.server.http import ApiServer, clear_socket_path
from linecontrol.server.hub import Hub

RECIPE = common.ROOT / "tests" / "integration" / "data" / "fault-run.toml"
PR_SET_PDEATHSIG = 1
TICK = os.sysconf("SC_CLK_TCK")


def die_with_parent() -> None:
    """This process gets SIGKILL when its parent ends (whatever way it ends)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


# ------------------------------------------------------------------ child processes
def relay_main(cols: int, rows: int, argv: list[str]) -> int:
    """The relay: ``argv`` on a pseudo-terminal of cols x rows; its output read and
    dropped; the child's pid printed first. Both die with the bench."""
    die_with_parent()
    pid, fd = pty.fork()
    if pid == 0:
        die_with_parent()
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.environ.update(TERM="xterm-256color", COLORTERM="truecolor")
        os.execvp(argv[0], argv)
    print(pid, flush=True)
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass
    os.waitpid(pid, 0)
    return 0


def streamer_main(sock: str) -> int:
    """The streaming script: follows /v1/stream into a LineView until killed."""
    die_with_parent()

    async def follow() -> None:
        client = ApiClient(Address(path=Path(sock)), "bench-stream")
        try:
            await client.follow(LineView())
        finally:
            await client.close()

    asyncio.run(follow())
    return 0


class Tui:
    def __init__(self, sock: Path, cols: int, rows: int, name: str) -> None:
        tui = [sys.executable, "-m", "linecontrol", "tui", "--connect", str(sock),
               "--client-id", name]  # fmt: skip
        self.size = f"{cols}x{rows}"
        self.relay = subprocess.Popen(
            [sys.executable, __file__, "--relay", str(cols), str(rows), "--", *tui],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.pid = 0

    async def started(self) -> Tui:
        """Its pid, read off the loop: the relay takes seconds to start (a Python that
        imports), and a loop blocked that long stalls every poll of the served line (which
        then goes STALE and holds)."""
        assert self.relay.stdout is not None
        self.pid = int(await asyncio.to_thread(self.relay.stdout.readline))
        return self

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime

    def kill(self) -> None:
        for pid in (self.pid, self.relay.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.relay.wait()


# ------------------------------------------------------------------ the served line
class Served:
    def __init__(self, s: LineSession, hub: Hub, sock: Path) -> None:
        self.s, self.hub, self.sock = s, hub, sock

    def state(self) -> str:
        return self.s.supervisor.state.label

    def clear_lateness(self) -> None:
        for p in self.s.acq.pollers.values():
            p.clear_lateness()

    def lateness_ms(self) -> np.ndarray:
        return np.asarray(self.s.acq.lateness_s()) * 1000.0


async def command(client: ApiClient, name: str) -> Any:
    result = await client.command(name, reason="bench")
    if not result.ok:
        raise SystemExit(f"{name} refused: {result.code} {result.message}")
    return result


async def wait_state(view: LineView, state: str, timeout_s: float) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while view.supervisor.get("state") != state:
                await asyncio.sleep(0.02)
    except TimeoutError:
        sup = view.supervisor
        raise SystemExit(
            f"not {state} within {timeout_s:g} s: {sup.get('state')}, waiting for "
            f"{sup.get('waiting_for')}, interlocks {sup.get('interlocks')}"
        ) from None


def pct(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q)) if len(a) else float("nan")


async def load_phase(served: Served, args: argparse.Namespace) -> None:
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    base: list[np.ndarray] = []
    loaded: list[np.ndarray] = []
    cpu: dict[str, list[float]] = {f"{c}x{r}": [] for c, r in sizes}
    await asyncio.sleep(args.settle)  # connections made, the first polls and writes done
    for rnd in range(args.rounds):
        # no client
        await asyncio.sleep(args.warmup)
        served.clear_lateness()
        await asyncio.sleep(args.seconds)
        base.append(served.lateness_ms())
        # two TUIs and a streaming script
        tuis = [
            await Tui(served.sock, c, r, f"bench-tui-{i}").started()
            for i, (c, r) in enumerate(sizes)
        ]
        streamer = subprocess.Popen([sys.executable, __file__, "--streamer", str(served.sock)],
                                    stdin=subprocess.DEVNULL)  # fmt: skip
        try:
            await asyncio.sleep(args.warmup + 4.0)  # Textual's start-up, the first full
            served.clear_lateness()
            t0 = time.perf_counter()
            c0 = [t.cpu_s() for t in tuis]
            await asyncio.sleep(args.seconds)
            wall = time.perf_counter() - t0
            for t, c in zip(tuis, c0, strict=True):
                cpu[t.size].append((t.cpu_s() - c) / wall * 100.0)
            loaded.append(served.lateness_ms())
        finally:
            for t in tuis:
                t.kill()
            streamer.kill()
            streamer.wait()
        b, ld = base[-1], loaded[-1]
        print(f"  round {rnd + 1} ({served.state()}): no client p99 {pct(b, 99):.2f} ms; "
              f"two TUIs + stream p99 {pct(ld, 99):.2f} ms; TUI CPU "
              + ", ".join(f"{k} {v[-1]:.1f} %" for k, v in cpu.items()), flush=True)  # fmt: skip
    b, ld = np.concatenate(base), np.concatenate(loaded)
    print(
        f"poll lateness, no client:          p50 {pct(b, 50):.2f} ms, p99 {pct(b, 99):.2f} ms "
        f"({len(b)} polls)"
    )
    print(
        f"poll lateness, two TUIs + stream:  p50 {pct(ld, 50):.2f} ms, p99 {pct(ld, 99):.2f} ms "
        f"({len(ld)} polls)"
    )
    print(f"  p99 change: {(pct(ld, 99) / pct(b, 99) - 1) * 100:+.1f} %  [target: within 10 %]")
    per_round = [(pct(x, 99), pct(y, 99)) for x, y in zip(base, loaded, strict=True)]
    mb = statistics.median(x for x, _ in per_round)
    ml = statistics.median(y for _, y in per_round)
    print(
        f"  median of the rounds' p99: no client {mb:.2f} ms, loaded {ml:.2f} ms "
        f"({(ml / mb - 1) * 100:+.1f} %)"
    )
    for k, v in cpu.items():
        print(
            f"TUI at {k}: CPU median {statistics.median(v):.1f} % of one core "
            f"(rounds: {', '.join(f'{x:.1f}' for x in v)})  [target: under 15 %]"
        )


class TimedView(LineView):
    """A LineView that notes when each StateChanged event arrives (state -> times)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered: list[tuple[str, float]] = []

    def apply(self, message: Any, now: float) -> None:
        super().apply(message, now)
        if isinstance(message, dict) and message.get("type") == "event":
            env = message.get("event") or {}
            data = env.get("data") if isinstance(env, dict) else None
            if env.get("type") == "StateChanged" and isinstance(data, dict):
                self.entered.append((str(data.get("new")), time.perf_counter()))


async def rtt_phase(client: ApiClient, view: TimedView, reps: int) -> None:
    round_trip: list[float] = []
    reply: list[float] = []
    steps = {"hold": ("Execute", "Holding", "Held"), "unhold": ("Held", "Unholding", "Execute")}
    for i in range(reps * 2):
        name = "hold" if i % 2 == 0 else "unhold"
        before, first, after = steps[name]
        await wait_state(view, before, 120.0)
        mark = len(view.entered)
        t0 = time.perf_counter()
        result = await client.command(name, reason="bench")
        t1 = time.perf_counter()
        if not result.ok:
            print(f"  {name} refused: {result.code} {result.message}")
            await asyncio.sleep(0.5)
            continue
        reply.append((t1 - t0) * 1000)
        async with asyncio.timeout(30.0):
            while not any(s == first for s, _ in view.entered[mark:]):
                await asyncio.sleep(0.001)
        t_seen = next(t for s, t in view.entered[mark:] if s == first)
        round_trip.append((t_seen - t0) * 1000)
        await wait_state(view, after, 120.0)
    rt, rp = np.array(round_trip), np.array(reply)
    print(
        f"command round trip (POST to its StateChanged on the stream), {len(rt)} commands: "
        f"median {pct(rt, 50):.1f} ms, p99 {pct(rt, 99):.1f} ms, max {rt.max():.1f} ms"
    )
    print(
        f"  HTTP reply (the supervisor's verdict): median {pct(rp, 50):.1f} ms, "
        f"p99 {pct(rp, 99):.1f} ms"
    )


async def session(args: argparse.Namespace, speedup: float, execute: bool) -> None:
    """One served line at ``speedup``: loaded, Reset, Started; with ``execute`` the
    round trips once in Execute, else the load phase while it starts (heating)."""
    data = Path(tempfile.mkdtemp(prefix="bench-api-"))
    sock = data / "linecontrol.sock"
    line = load_line(DEFAULT_LINE)
    check_data_dir(data)
    clear_socket_path(sock)
    lock = take_state_lock(data)
    setup = LineSetup(config=DEFAULT_LINE, line=line, data_dir=data, lock=lock, sim=True,
                      speedup=speedup, sample_hz=10.0, operator="bench")  # fmt: skip
    async with open_line(setup) as s:
        hub = Hub(s, line.api, None)
        server = ApiServer(hub, api_schema(), sock, None)
        ticks = asyncio.create_task(hub.run(), name="stream clock")
        await server.start()
        client = ApiClient(Address(path=sock), "bench")
        view = TimedView()
        follow = asyncio.create_task(client.follow(view))
        try:
            print(f"{len(s.acq.channels)} channels, speed-up {speedup:g}, "
                  f"load average {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
            await command(client, "take_control")
            result = await client.command("load_recipe", reason="bench", path=str(RECIPE))
            if not result.ok:
                raise SystemExit(f"load_recipe: {result.message}")
            await wait_state(view, "Stopped", 30.0)
            await command(client, "reset")
            await wait_state(view, "Idle", 30.0)
            await command(client, "start")
            if execute:
                await wait_state(view, "Execute", 300.0)
                sup = view.supervisor
                print(f"line in Execute: {sup.get('line_speed')} m/min, "
                      f"{sup.get('metres_to_go')} m to go", flush=True)  # fmt: skip
                await rtt_phase(client, view, args.reps)
            else:
                await wait_state(view, "Starting", 30.0)
                await load_phase(Served(s, hub, sock), args)
                print(f"line at the end: {view.supervisor.get('state')}")
            print(f"load average at the end {os.getloadavg()[0]:.2f}", flush=True)
        except SystemExit as exc:
            print(f"bench stopped: {exc}", flush=True)
            raise
        finally:
            if s.supervisor.state.label not in ("Stopped", "Aborted"):
                await make_safe(s.supervisor, "bench", s.clock, "bench ended", "bench")
            follow.cancel()
            await asyncio.gather(follow, return_exceptions=True)
            await client.close()
            hub.closing = True
            ticks.cancel()
            await asyncio.gather(ticks, return_exceptions=True)
            await server.stop()
    lock.release()


async def main(args: argparse.Namespace) -> None:
    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), f"{os.cpu_count()} cores")
    if not args.skip_rtt:
        print(f"3. command round trip (speed-up {args.speedup:g}, to reach Execute soon)")
        await session(args, args.speedup, execute=True)
    if not args.skip_load:
        print("1-2. load and TUI cost (speed-up 1: poll lateness in real time)")
        await session(args, 1.0, execute=False)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--relay":
        sys.exit(relay_main(int(sys.argv[2]), int(sys.argv[3]), sys.argv[5:]))
    if len(sys.argv) > 1 and sys.argv[1] == "--streamer":
        sys.exit(streamer_main(sys.argv[2]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--settle", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--speedup", type=float, default=300.0)
    ap.add_argument("--sizes", default="80x24,200x60")
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-rtt", action="store_true")
    asyncio.run(main(ap.parse_args()))
