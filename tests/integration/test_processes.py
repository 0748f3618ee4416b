"""Processes as an operator meets them: killed, signalled twice, signalled early.

``record --sim`` starts the simulated line as a child; that child must end with its
parent however the parent ends, and ``linecontrol sim`` must stop cleanly on a signal at
any moment once it runs. Every wait here polls with a deadline; nothing sleeps to
synchronise.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SIGTERM_BIT = 1 << (signal.SIGTERM - 1)


def wait_until(cond: Callable[[], bool], deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline_s} s: {what}")
        time.sleep(0.005)  # polling interval, not synchronisation: the condition decides


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2 :].split()  # state, ppid, ...


def alive(pid: int) -> bool:
    """Running (a zombie has already ended; only its exit status is left to collect)."""
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None and int(st[1]) == pid:
                out.append(int(entry.name))
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def signal_mask(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1], 16)
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def linecontrol(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "linecontrol", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@contextmanager
def recording(data: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``record --sim`` running (its run log started); yields (recorder, simulator pid).
    Whatever happens, both are gone afterwards."""
    rec = linecontrol("record", "--sim", "--duration", "120", "--data-dir", str(data))
    sims: list[int] = []
    try:

        def sim_started() -> bool:
            sims[:] = [p for p in children_of(rec.pid) if "simulators" in cmdline(p)]
            return bool(sims) or rec.poll() is not None

        wait_until(sim_started, 30, "the recorder starts its simulator")
        assert rec.poll() is None, rec.communicate()
        wait_until(
            lambda: any(data.glob("*/meta.json")) or rec.poll() is not None,
            30,
            "the recorder starts its run",
        )
        assert rec.poll() is None, rec.communicate()
        yield rec, sims[0]
    finally:
        for pid in sims:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        if rec.poll() is None:
            rec.kill()
        rec.communicate(timeout=30)
        for pid in sims:
            if alive(pid):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_sigkill_of_the_recorder_takes_its_simulator_with_it(tmp_path: Path) -> None:
    with recording(tmp_path) as (rec, sim):
        assert alive(sim)
        rec.kill()
        rec.wait(10)
        wait_until(lambda: not alive(sim), 1.0, "the simulator ends with its recorder")


PARENT = """
import asyncio, sys
from linecontrol.runtime import start_child

async def main():
    # A child that ignores its lifeline: only PR_SET_PDEATHSIG can end it.
    child = await start_child([sys.executable, "-c", "import time; time.sleep(120)"])
    print(child.pid, flush=True)
    await child.wait()

asyncio.run(main())
"""


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_that_ignores_its_lifeline_still_dies_with_its_parent() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE)
    child = None
    try:
        assert parent.stdout is not None
        wait_until(lambda: _readable(parent), 30, "the parent starts its child")
        child = int(parent.stdout.readline())
        assert alive(child)
        parent.kill()
        parent.wait(10)
        wait_until(lambda: not alive(child), 1.0, "the child ends with its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.communicate(timeout=30)
        if child is not None and alive(child):
            os.kill(child, signal.SIGKILL)


def test_the_simulator_stops_cleanly_when_its_lifeline_closes() -> None:
    """The portable tie (no PR_SET_PDEATHSIG): EOF on stdin stops the simulators cleanly."""
    from linecontrol.config import DEFAULT_LINE

    sim = subprocess.Popen(
        [sys.executable, "-m", "simulators", "--lifeline", "--config", str(DEFAULT_LINE)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert sim.stdout is not None and sim.stdin is not None
        wait_until(lambda: _readable(sim), 30, "the address map")
        assert "devices" in json.loads(sim.stdout.readline())
        sim.stdin.close()
        sim.stdin = None  # closed: communicate() has nothing to send
        _, err = sim.communicate(timeout=10)
        assert sim.returncode == 0, err
        assert b"simulators stopped" in err and b"Traceback" not in err
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.communicate()


def _readable(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the child's stdout (a pipe) has something to read now."""
    import select

    assert proc.stdout is not None
    return bool(select.select([proc.stdout], [], [], 0)[0])


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_second_sigterm_during_shutdown_does_not_skip_clean_up(tmp_path: Path) -> None:
    with recording(tmp_path) as (rec, sim):
        meta = next(tmp_path.glob("*/meta.json"))
        # Hold the simulator still, so the recorder's shutdown waits on it.
        os.kill(sim, signal.SIGSTOP)
        rec.send_signal(signal.SIGTERM)

        def run_log_closed() -> bool:
            with suppress(ValueError, OSError):
                return json.loads(meta.read_text()).get("exit_status") is not None
            return False

        # The run log is closed; the recorder is now stopping its simulator.
        wait_until(run_log_closed, 30, "the recorder closes its run log")
        rec.send_signal(signal.SIGTERM)
        rec.send_signal(signal.SIGINT)
        os.kill(sim, signal.SIGCONT)
        out, err = rec.communicate(timeout=30)
        # Its own exit, not the signal's default action: 0, or 4 (EXIT_DEVICES) when the
        # held simulator had stopped answering before the run ended.
        assert rec.returncode in (0, 4), err
        assert out.decode().strip() == meta.parent.name
        assert b"Traceback" not in err
        wait_until(lambda: not alive(sim), 1.0, "the simulator has been stopped")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_linecontrol_sim_stops_cleanly_on_an_early_sigterm() -> None:
    """SIGTERM at random moments of start-up, from the moment our code runs (the command
    has exec'd the simulators, or has the signal caught or blocked) until the address map
    is out: every one a clean stop, exit 0. (A signal during the interpreter's own
    start-up, before any code of ours runs, takes the default action: no handler can
    exist yet, and nothing has been opened.)"""
    rng = random.Random(7)
    for i in range(10):
        sim = linecontrol("sim")
        try:

            def ours(pid: int = sim.pid) -> bool:
                masks = signal_mask(pid, "SigBlk") | signal_mask(pid, "SigCgt")
                return bool(masks & SIGTERM_BIT) or "simulators" in cmdline(pid)

            wait_until(ours, 30, "linecontrol sim runs")
            # Spread over start-up: imports, config, servers (about a second here).
            end = time.monotonic() + rng.uniform(0, 0.8)
            while time.monotonic() < end and not _readable(sim):
                time.sleep(0.001)
            sim.send_signal(signal.SIGTERM)
            _, err = sim.communicate(timeout=30)
            assert sim.returncode == 0, (i, sim.returncode, err)
            assert b"Traceback" not in err and b"simulators stopped" in err, (i, err)
        finally:
            if sim.poll() is None:
                sim.kill()
                sim.communicate()
