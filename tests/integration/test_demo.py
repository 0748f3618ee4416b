"""``linecontrol demo``, the README's main command, in a real terminal (tmux, 80x24): it shows
the overview of the simulated line with the recipe loaded; ``q``, Ctrl-C and SIGTERM end it
with exit 0 and no serve or simulator process left; SIGKILL of demo leaves none either (each
checked by pid, with a deadline). A serve that cannot start (a bad config, a data root held
by another supervisor) is exit 2 with serve's reason, nothing left running."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from linecontrol.supervisor.shell import StateLock

pytestmark = [pytest.mark.integration, pytest.mark.deadline(240)]

needs_tmux = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="needs tmux (.ci/run installs it)"
)


def wait_until(cond: Callable[[], bool], deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline_s} s: {what}")
        time.sleep(0.05)  # polling interval, not synchronisation: the condition decides


def stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a live process; None once gone (or a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[0], int(fields[1]), int(fields[19])


@dataclass(frozen=True)
class Proc:
    pid: int
    start: int  # /proc start time: a recycled pid is another process
    cmdline: str

    def alive(self) -> bool:
        now = stat(self.pid)
        return now is not None and now[2] == self.start


def descendants(root: int) -> list[Proc]:
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (s := stat(int(entry.name))) is not None:
            children.setdefault(s[1], []).append(int(entry.name))
            starts[int(entry.name)] = s[2]
    out: list[Proc] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        out.append(Proc(pid, starts[pid], cmd))
        todo.extend(children.get(pid, []))
    return out


def running_with(marker: str) -> list[str]:
    """Command lines of the live processes that name ``marker`` (a test's own path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with suppress(OSError):
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if marker in cmd and stat(int(entry.name)) is not None:
                    found.append(cmd)
    return found


@dataclass
class Terminal:
    tmux: list[str]
    shell_pid: int
    rc_file: Path

    def pane(self, *, under_the_tui: bool = False) -> str:
        """The pane's text; ``under_the_tui``: the normal screen the TUI's covers."""
        alt = ["-a"] if under_the_tui else []
        done = subprocess.run([*self.tmux, "capture-pane", "-p", "-J", *alt, "-t", "demo"],
                              capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
        return done.stdout

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", "demo", *keys], check=True, timeout=30)

    def exit_status(self, deadline_s: float) -> str:
        wait_until(self.rc_file.exists, deadline_s, "demo ended")
        wait_until(lambda: self.rc_file.read_text().strip() != "", 5, "its exit status written")
        return self.rc_file.read_text().strip()


@contextmanager
def demo_in_tmux(tmp_path: Path) -> Iterator[tuple[Terminal, list[Proc]]]:
    """``linecontrol demo`` in a tmux pane, once its overview shows; yields the terminal
    and the demo's processes then (demo, serve, the simulators). Whatever happens, each
    of them is killed at the end."""
    tmux = ["tmux", "-L", f"lc-demo-{os.getpid()}", "-f", "/dev/null"]
    rc_file, pid_file = tmp_path / "demo.rc", tmp_path / "shell.pid"
    command = (
        f"echo $$ > {shlex.quote(str(pid_file))}; {shlex.quote(sys.executable)} -m linecontrol "
        f"demo --data-dir {shlex.quote(str(tmp_path / 'data'))}"
        f"; echo $? > {shlex.quote(str(rc_file))}; sleep 60"
    )
    procs: list[Proc] = []
    try:
        subprocess.run(
            [*tmux, "new-session", "-d", "-x", "80", "-y", "24", "-s", "demo", command],
            check=True,
            timeout=30,
            env={**os.environ, "TERM": "xterm-256color"},
        )
        term = Terminal(tmux, 0, rc_file)
        wait_until(lambda: pid_file.exists() and pid_file.read_text().strip() != "", 30, "shell")
        term.shell_pid = int(pid_file.read_text())
        wait_until(
            lambda: "connected" in term.pane() and "Stopped" in term.pane(),
            120,
            "the overview shown",
        )
        procs = [p for p in descendants(term.shell_pid) if "python" in p.cmdline]
        yield term, procs
    finally:
        for p in procs:
            if p.alive():
                with suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
        subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=30, check=False)


def the_three(procs: list[Proc]) -> None:
    """demo, serve and the simulators are among ``procs``: the test sees what it checks."""
    assert any(" demo " in p.cmdline for p in procs), procs
    assert any(" serve --sim " in p.cmdline for p in procs), procs
    assert any("-m simulators" in p.cmdline for p in procs), procs


@needs_tmux
@pytest.mark.parametrize("how", ["q", "ctrl+c", "SIGTERM", "SIGINT", "SIGHUP"])
def test_the_demo_shows_the_overview_and_quits_leaving_nothing_running(
    tmp_path: Path, how: str
) -> None:
    with demo_in_tmux(tmp_path) as (term, procs):
        screen = term.pane()
        assert "FCCL line 1" in screen and "recipe 001-ex1" in screen
        assert "1 Overview" in screen and "q Quit" in screen
        the_three(procs)
        serve_argv = next(p for p in procs if " serve --sim " in p.cmdline).cmdline.split()
        sock = serve_argv[serve_argv.index("--socket") + 1]
        if how == "q":
            # Where its API is, on the screen under the TUI: the socket that answers.
            shown = term.pane(under_the_tui=True)
            assert f"demo: API on {sock} (curl --unix-socket {sock} " in shown, shown
            assert Path(sock).is_socket()
            term.keys("q")
        elif how == "ctrl+c":
            term.keys("C-c")
        else:
            demo = next(p for p in procs if " demo " in p.cmdline)
            os.kill(demo.pid, getattr(signal, how))
        assert term.exit_status(90) == "0", term.pane()
        wait_until(lambda: not any(p.alive() for p in procs), 10, "every process gone")
        # what demo wrote once the TUI gave the terminal back: serve's last line, a clean stop
        assert "stopped by signal (ended Stopped)" in term.pane()
        serve = next(p for p in procs if " serve --sim " in p.cmdline).cmdline.split()
        private = Path(serve[serve.index("--socket") + 1]).parent
        assert not private.exists()  # the private socket's directory is removed


def demo_on_a_held_data_root(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """A demo to its start and out: its data root held by another supervisor (this
    process), serve refuses it at once, exit 2."""
    lock = StateLock(tmp_path / "data" / ".supervisor")
    lock.acquire()
    try:
        done = run_demo(tmp_path)
    finally:
        lock.release()
    assert done.returncode == 2, done.stderr
    return done


@needs_tmux
def test_a_demo_killed_outright_takes_serve_and_the_simulators_with_it(tmp_path: Path) -> None:
    """And its private directory (serve's dead socket in it) is left, until the next
    demo starts and removes it; a live demo's is never removed."""
    with demo_in_tmux(tmp_path) as (term, procs):
        the_three(procs)
        serve = next(p for p in procs if " serve --sim " in p.cmdline).cmdline.split()
        private = Path(serve[serve.index("--socket") + 1]).parent
        demo_on_a_held_data_root(tmp_path / "second")
        assert private.is_dir()  # the live demo's is kept
        demo = next(p for p in procs if " demo " in p.cmdline)
        os.kill(demo.pid, signal.SIGKILL)
        assert term.exit_status(30) == str(128 + signal.SIGKILL)
        wait_until(lambda: not any(p.alive() for p in procs), 30, "serve and the simulators gone")
        assert private.is_dir()  # nothing removes it while no demo runs
        demo_on_a_held_data_root(tmp_path / "third")
        assert not private.exists()


def run_demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linecontrol", "demo", "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_a_bad_config_is_exit_2_with_its_reason_before_anything_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[line\n")
    done = run_demo(tmp_path, "--config", str(bad))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: line config: ") and str(bad) in done.stderr
    assert "serve" not in done.stderr  # demo read the config itself: no serve started
    assert running_with(str(tmp_path)) == []


def test_a_data_root_held_by_another_supervisor_is_exit_2_with_serves_reason(
    tmp_path: Path,
) -> None:
    done = demo_on_a_held_data_root(tmp_path)
    assert f"another supervisor (pid {os.getpid()}) is running on" in done.stderr
    assert "serve did not start (exit 2)" in done.stderr
    assert running_with(str(tmp_path)) == []


@needs_tmux
def test_a_serve_that_dies_closes_the_tui_with_exit_1(tmp_path: Path) -> None:
    with demo_in_tmux(tmp_path) as (term, procs):
        the_three(procs)
        serve = next(p for p in procs if " serve --sim " in p.cmdline)
        os.kill(serve.pid, signal.SIGKILL)
        assert term.exit_status(60) == "1"
        wait_until(lambda: not any(p.alive() for p in procs), 30, "every process gone")
        assert "serve ended by itself while the TUI ran (exit -9)" in term.pane()


def test_a_tui_that_crashes_stops_serve_and_the_simulators(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo in this process, its TUI replaced by one that raises once serve answers:
    serve and the simulators (this process's children then) are stopped all the same."""
    import linecontrol.tui
    from linecontrol.cli.entry import main

    running: list[Proc] = []

    class Crashing(linecontrol.tui.LineApp):
        async def run_async(self, *args: object, **kwargs: object) -> None:
            running.extend(descendants(os.getpid()))
            raise RuntimeError("the TUI crashed")

    monkeypatch.setattr(linecontrol.tui, "LineApp", Crashing)
    try:
        with pytest.raises(RuntimeError, match="the TUI crashed"):
            main(["demo", "--data-dir", str(tmp_path / "data"), "--speedup", "300"])
        assert any(" serve --sim " in p.cmdline for p in running), running
        assert any("-m simulators" in p.cmdline for p in running), running
        wait_until(lambda: not any(p.alive() for p in running), 10, "serve and simulators gone")
    finally:
        for p in running:
            if p.alive():
                with suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)


def test_a_missing_recipe_is_exit_2_before_anything_starts(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--recipe", str(tmp_path / "nope.toml"))
    assert done.returncode == 2, done.stderr
    assert f"--recipe {tmp_path / 'nope.toml'}: no such file; nothing started" in done.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[garbage\n", "line 1: TOML syntax error"),
        (None, "violates the process rules: [press.temp_vs_tg]"),  # 001 Comparative example 1
    ],
)
def test_a_recipe_the_supervisor_refuses_is_exit_2_with_its_reason_before_anything_starts(
    tmp_path: Path, text: str | None, reason: str
) -> None:
    """serve started with it refused, the TUI with no recipe, after the demo said the
    recipe was loaded; now the demo makes the supervisor's own check first."""
    from linecontrol.config import RECIPES

    recipe = RECIPES / "001-comp1.toml"
    if text is not None:
        recipe = tmp_path / "bad.toml"
        recipe.write_text(text)
    done = run_demo(tmp_path, "--recipe", str(recipe))
    assert done.returncode == 2, done.stderr
    assert f"error: --recipe {recipe}: {reason}" in done.stderr
    assert done.stderr.rstrip().endswith("; nothing started")
    assert "serve" not in done.stderr
    assert not (tmp_path / "data").exists()
    assert running_with(str(tmp_path)) == []


def test_a_signal_while_serve_starts_stops_it_and_starts_no_tui(tmp_path: Path) -> None:
    """SIGTERM as soon as serve's process exists (seconds before it can answer: Python
    is still importing it): exit 0, serve and anything it started gone, no TUI run."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "linecontrol", "demo", "--data-dir", str(tmp_path / "data")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[Proc] = []

    def serve_seen() -> bool:
        seen.extend(q for q in descendants(demo.pid) if q not in seen)
        return any(" serve --sim " in p.cmdline for p in seen) or demo.poll() is not None

    try:
        wait_until(serve_seen, 60, "serve started")
        demo.send_signal(signal.SIGTERM)
        _, err = demo.communicate(timeout=90)
        assert demo.returncode == 0, err
        assert "\x1b[?1049h" not in err  # no TUI took the screen (Textual draws on stderr)
        assert any(" serve --sim " in p.cmdline for p in seen), seen
        wait_until(lambda: not any(p.alive() for p in seen), 10, "every process gone")
        assert running_with(str(tmp_path)) == []
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate(timeout=30)
        for p in seen:
            if p.alive():
                with suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
