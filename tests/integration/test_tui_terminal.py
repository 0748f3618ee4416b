"""``linecontrol tui`` in a real terminal (tmux, 80x24) against a real ``linecontrol serve
--sim``: it shows the overview with the line's state, and ``q`` (or ctrl+c) quits it
cleanly (exit 0)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.test_tui_serve import serve

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (.ci/run installs it)"),
]


def wait_until(cond: Callable[[], bool], deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline_s} s: {what}")
        time.sleep(0.05)  # polling interval, not synchronisation: the condition decides


@pytest.mark.parametrize("quit_key", ["q", "C-c"])
def test_the_tui_in_a_terminal_shows_the_overview_and_quits(tmp_path: Path, quit_key: str) -> None:
    tmux = ["tmux", "-L", f"lc-tui-{os.getpid()}", "-f", "/dev/null"]
    rc_file = tmp_path / "tui.rc"
    with serve(tmp_path) as (sock, proc):
        wait_until(lambda: sock.exists() or proc.poll() is not None, 90, "serve's socket")
        assert proc.poll() is None, (tmp_path / "serve.err").read_text()
        command = (
            f"{shlex.quote(sys.executable)} -m linecontrol tui --connect {shlex.quote(str(sock))}"
            f"; echo $? > {shlex.quote(str(rc_file))}"
        )
        try:
            subprocess.run(
                [*tmux, "new-session", "-d", "-x", "80", "-y", "24", "-s", "tui", command],
                check=True,
                timeout=30,
                env={**os.environ, "TERM": "xterm-256color"},
            )

            def pane() -> str:
                done = subprocess.run(
                    [*tmux, "capture-pane", "-p", "-t", "tui"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=False,
                )
                return done.stdout

            wait_until(
                lambda: "connected" in pane() and "Stopped" in pane(), 60, "the overview shown"
            )
            screen = pane()
            assert "FCCL line 1" in screen
            assert "1 Overview" in screen and "q Quit" in screen
            subprocess.run([*tmux, "send-keys", "-t", "tui", quit_key], check=True, timeout=30)
            wait_until(rc_file.exists, 30, "the TUI quit")
            wait_until(lambda: rc_file.read_text().strip() != "", 5, "its exit status written")
            assert rc_file.read_text().strip() == "0"
        finally:
            subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=30, check=False)
