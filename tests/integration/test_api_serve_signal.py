"""``linecontrol serve`` stopped by signals while it starts (the simulators starting,
before the API serves): it says it was stopped before serving and exits 6, as ``run``
does (``StoppedBeforeStart``), and a second signal does not cut its clean-up short:
the simulators end, the run log is closed, the socket is never left, the data root's
lock is free. A real serve child in a session of its own, killed with its group
whatever the test does."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linecontrol.cli.run import EXIT_NOT_COMPLETE
from linecontrol.runlog import load_events
from linecontrol.supervisor import StateLock

pytestmark = [pytest.mark.integration, pytest.mark.deadline(120)]

START_S = 60.0  # real seconds for serve to start its simulators
STOP_S = 60.0  # real seconds for serve to stop and exit


def children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                out += [int(c) for c in f.read().split()]
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_two_sigterms_while_serve_starts_say_so_and_exit_6_after_the_clean_up(
    tmp_path: Path,
) -> None:
    data, sock, err = tmp_path / "data", tmp_path / "api.sock", tmp_path / "serve.err"
    with open(err, "w", encoding="utf-8") as errf:
        proc = subprocess.Popen(
            [sys.executable, "-m", "linecontrol", "serve", "--sim", "--speedup", "300",
             "--data-dir", str(data), "--socket", str(sock)],
            stdout=subprocess.PIPE, stderr=errf, text=True, start_new_session=True,
        )  # fmt: skip
    try:
        # The simulators' process is serve's first child: serve is in its start-up, its
        # stop signals taken (they are set before anything starts).
        deadline = time.monotonic() + START_S
        while not (sims := children(proc.pid)):
            assert proc.poll() is None, err.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "serve started no simulators"
            time.sleep(0.005)  # polling interval, not synchronisation: the child decides
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=STOP_S)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    stderr = err.read_text(encoding="utf-8")
    assert proc.returncode == EXIT_NOT_COMPLETE, stderr
    assert "socket " not in out, out  # it never served
    [said] = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
    assert "stopped by a signal before serving; nothing served" in said, stderr
    # The clean-up ran to its end: no simulator left, no socket, the lock free, the run
    # log of the start-up closed (its summary written with the status).
    deadline = time.monotonic() + 10
    while any(alive(p) for p in sims):
        assert time.monotonic() < deadline, "a simulator outlived serve"
        time.sleep(0.01)  # polling interval: the child's exit decides
    assert not sock.exists()
    lock = StateLock(data / ".supervisor")
    lock.acquire()
    lock.release()
    [run] = [p for p in data.iterdir() if not p.name.startswith(".")]
    assert (run / "summary.json").is_file(), sorted(p.name for p in run.iterdir())
    assert "stopped by signal before serving" in (run / "summary.json").read_text("utf-8")
    load_events(run)  # readable


def mapped(pid: int, what: str) -> bool:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/maps", encoding="utf-8") as f:
        return any(what in line for line in f)
    return False


EARLY = {
    "serve": "stopped by a signal before serving; nothing served",
    "run": "stopped by a signal before anything started; nothing run",
}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("command", ["serve", "run"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_while_serve_imports_its_parts_is_exit_6_not_a_kill(
    tmp_path: Path, sig: signal.Signals, command: str
) -> None:
    """A signal while serve (or run) still imports the recording stack (pyarrow being
    mapped: a second or more on a loaded machine, before its session takes the
    signals): SIGTERM killed it outright (exit -15) and SIGINT was 'interrupted' (130);
    now either says it was stopped before it started, exit 6, nothing started."""
    data, sock = tmp_path / "data", tmp_path / "api.sock"
    where = ["--socket", str(sock)] if command == "serve" else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "linecontrol", command, "--sim", "--speedup", "300",
         "--data-dir", str(data), *where],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_S
        while not mapped(proc.pid, "/pyarrow/"):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, f"{command} never imported pyarrow"
            time.sleep(0.002)  # polling interval, not synchronisation: the child decides
        assert not children(proc.pid)  # no simulator yet: still importing
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=STOP_S)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == EXIT_NOT_COMPLETE, err
    assert "socket " not in out, out
    assert EARLY[command] in err, err
    assert "Traceback" not in err, err
    assert not sock.exists()
    assert not data.exists() or not [p for p in data.iterdir() if not p.name.startswith(".")]


def _serving(tmp_path: Path, *, hup_ignored: bool) -> tuple[subprocess.Popen[str], Path]:
    """A real serve --sim, returned once it prints its socket (it serves)."""
    data, sock = tmp_path / "data", tmp_path / "api.sock"

    def ignore_hup() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-m", "linecontrol", "serve", "--sim", "--speedup", "300",
         "--data-dir", str(data), "--socket", str(sock)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=ignore_hup if hup_ignored else None,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:  # serve prints the socket path once it serves
        if line.startswith("socket "):
            return proc, sock
    proc.wait(timeout=STOP_S)
    pytest.fail(f"serve did not serve: {proc.stderr.read() if proc.stderr else ''}")


def _state_answered(sock: Path) -> bool:
    import http.client
    import socket as socket_mod

    class Unix(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket_mod.socket(socket_mod.AF_UNIX, socket_mod.SOCK_STREAM)
            self.sock.settimeout(10)
            self.sock.connect(str(sock))

    conn = Unix("localhost", timeout=10)
    try:
        conn.request("GET", "/v1/state")
        return conn.getresponse().status == 200
    finally:
        conn.close()


@pytest.mark.parametrize("hup_ignored", [False, True])
def test_sighup_stops_a_serving_serve_cleanly_unless_it_is_ignored(
    tmp_path: Path, hup_ignored: bool
) -> None:
    """The terminal closed (SIGHUP) stops the line as SIGTERM does: exit 0, its clean
    stop, the socket removed (it was killed by SIGHUP's default action, the line and the
    run log left as they were). Under ``nohup`` (SIGHUP ignored) it keeps serving."""
    proc, sock = _serving(tmp_path, hup_ignored=hup_ignored)
    try:
        proc.send_signal(signal.SIGHUP)
        if hup_ignored:
            assert _state_answered(sock)  # it serves on after the SIGHUP
            assert proc.poll() is None
            proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=STOP_S)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == 0, stderr
    assert "stopped by signal" in stderr, stderr
    assert not sock.exists()
