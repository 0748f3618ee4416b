"""Logging: every line about a device or a run names it; run-log errors are logged;
importing a module configures nothing; ``--log-level`` and ``--log-file`` on every
long-running command do what they say."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from drivers.device import PollResult
from drivers.errors import DeviceTimeout
from linecontrol import runtime
from linecontrol.acquisition import Acquisition
from linecontrol.cli import build_parser
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.runlog import Batch, Channel, RunLog, RunMeta, SegmentWriter
from linecontrol.runtime import ManualClock
from simulators.__main__ import build_parser as sim_parser

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 60.0
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ")


class Driver:
    def __init__(self, names: list[str]) -> None:
        self.values = {n: 1.0 for n in names}
        self.exc: Exception | None = None

    async def poll(self) -> PollResult:
        if self.exc is not None:
            raise self.exc
        return PollResult(values=dict(self.values))


async def test_a_device_failure_and_its_recovery_are_logged_with_the_device_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock(10.0)
    acq = Acquisition(load_line(DEFAULT_LINE), clock, rng=random.Random(1))
    press = acq.pollers["press"]
    drv = Driver(press.names)
    press.driver = drv

    async def polls() -> None:
        await acq.poll_once(press)
        drv.exc = DeviceTimeout("no reply within 0.5 s", device="press")
        for _ in range(3):  # one line per change of state, not one per failed poll
            await acq.poll_once(press)
        drv.exc = None
        await acq.poll_once(press)

    with caplog.at_level(logging.INFO, logger="linecontrol.acquisition"):
        await polls()
    recs = [r for r in caplog.records if r.name == "linecontrol.acquisition"]
    assert [r.levelno for r in recs] == [logging.WARNING, logging.INFO]
    assert all(getattr(r, "device", None) == "press" for r in recs)
    fail, back = (r.getMessage() for r in recs)
    assert fail.startswith("device press: failing: DeviceTimeout") and "no reply" in fail
    assert back == "device press: answering again (was failing)"


class FullDisk:
    def __call__(self, path: Path, channels: list[Channel], fsync: bool) -> SegmentWriter:
        w = SegmentWriter(path, channels, fsync=fsync)

        def write(b: Batch) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

        w.write = write  # type: ignore[method-assign]
        return w


async def test_a_run_log_error_is_logged_with_the_run_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> None:
        clock = ManualClock(1.0)
        meta = RunMeta(
            run_id="R-logged",
            line={},
            channels=[Channel("a")],
            start_mono=clock.monotonic(),
            start_wall=clock.wall(),
        )
        log = RunLog(tmp_path, meta, clock=clock.both, fsync=False, opener=FullDisk())
        await log.start()
        t = np.arange(10) / 10
        for _ in range(2):  # one streak: logged once
            log.append(Batch(t, t + 1.7e9, t, np.ones((10, 1)), np.zeros((10, 1), np.uint8)))
        await log.drain()
        await log.stop("ok", compact=False)

    with caplog.at_level(logging.WARNING, logger="linecontrol.runlog"):
        await asyncio.wait_for(body(), DEADLINE_S)
    [rec] = [r for r in caplog.records if r.name == "linecontrol.runlog"]
    assert rec.levelno == logging.ERROR and getattr(rec, "run", None) == "R-logged"
    msg = rec.getMessage()
    assert msg.startswith("run R-logged: run-log write failed at samples: OSError")
    assert "No space left on device" in msg


# ------------------------------------------------------------------ imports
IMPORT_ALL = textwrap.dedent(
    """
    import importlib, logging, pkgutil, sys
    # Third-party libraries first: what they do to their own loggers is not ours.
    import numpy, pyarrow, pyarrow.ipc, pydantic, serial  # noqa
    def state():
        loggers = {"": logging.getLogger()}
        loggers.update(
            (n, lg) for n, lg in logging.Logger.manager.loggerDict.items()
            if isinstance(lg, logging.Logger)
        )
        return {
            n: (lg.level, [type(h).__name__ for h in lg.handlers], lg.propagate, lg.disabled)
            for n, lg in loggers.items()
        }
    before = state()
    names = []
    for pkg in ("drivers", "simulators", "linecontrol"):
        mod = importlib.import_module(pkg)
        names.append(pkg)
        for info in pkgutil.walk_packages(mod.__path__, pkg + "."):
            if info.name.endswith(".__main__"):
                continue  # an entry point: it configures logging, by design
            importlib.import_module(info.name)
            names.append(info.name)
    after = state()
    fresh = (logging.NOTSET, [], True, False)
    changed = {
        n: (before.get(n, fresh), s) for n, s in after.items() if s != before.get(n, fresh)
    }
    print(len(names), changed)
    """
)


def test_importing_every_module_changes_no_logger() -> None:
    # In a fresh interpreter: here, pytest and earlier tests have imported them already.
    p = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
        cwd=ROOT,
    )
    assert p.returncode == 0, p.stderr
    count, changed = p.stdout.split(" ", 1)
    assert int(count) > 40  # every module was imported
    assert changed.strip() == "{}"


# ------------------------------------------------------------------ options
def _long_running() -> dict[str, argparse.ArgumentParser]:
    cli = build_parser()
    [sub] = [a for a in cli._actions if isinstance(a, argparse._SubParsersAction)]
    return {
        "linecontrol record": sub.choices["record"],
        "linecontrol sim": sub.choices["sim"],
        "python -m simulators": sim_parser(),
    }


@pytest.mark.parametrize("command", list(_long_running()))
def test_every_long_running_command_takes_log_options_with_help(command: str) -> None:
    parser = _long_running()[command]
    opts = {o: a for a in parser._actions for o in a.option_strings}
    for flag in ("--log-level", "--log-file"):
        assert flag in opts, f"{command} has no {flag}"
        assert opts[flag].help and opts[flag].help != argparse.SUPPRESS
    assert list(opts["--log-level"].choices or []) == list(runtime.LOG_LEVELS)
    assert opts["--log-level"].default == runtime.DEFAULT_LOG_LEVEL


def test_every_simulators_option_has_help() -> None:
    missing = [a.dest for a in sim_parser()._actions if not a.help or a.help == argparse.SUPPRESS]
    assert missing == []


def test_configured_leaves_logging_as_it_found_it(tmp_path: Path) -> None:
    root = logging.getLogger()
    level, others = root.level, list(root.handlers)
    with runtime.configured("info", tmp_path / "a.log"):
        ours = [h for h in root.handlers if h not in others]
        assert len(ours) == 1 and isinstance(ours[0], logging.FileHandler)
        assert root.level == logging.INFO and all(h in root.handlers for h in others)
        logging.getLogger("linecontrol.test").info("kept")
        logging.getLogger("linecontrol.test").debug("filtered")
    assert root.handlers == others and root.level == level
    assert ours[0].stream is None  # closed
    [line] = (tmp_path / "a.log").read_text().splitlines()
    assert LOG_LINE.match(line) and line.endswith(" INFO linecontrol.test: kept")
    with pytest.raises(ValueError, match="log level 'loud'"), runtime.configured("loud"):
        pass
    assert root.handlers == others


def test_a_command_run_in_process_leaves_no_handler_behind(tmp_path: Path) -> None:
    from linecontrol.cli import main

    root = logging.getLogger()
    level, others = root.level, list(root.handlers)
    assert main(["recipe", "check", str(tmp_path / "missing.toml")]) == 2
    assert root.handlers == others and root.level == level


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unreachable_line(tmp_path: Path) -> Path:
    """The shipped line config with every instrument somewhere nothing answers:
    a closed loopback port, serial ports that do not exist."""
    text = DEFAULT_LINE.read_text()
    text = re.sub(r'host = "[^"]*"', 'host = "127.0.0.1"', text)
    port, units = _closed_port(), iter(range(1, 248))
    # one closed port, a unit each (two devices at one address are refused)
    text = re.sub(
        r"^port = \d+\nunit = \d+$",
        lambda _: f"port = {port}\nunit = {next(units)}",
        text,
        flags=re.M,
    )
    text = re.sub(r'"/dev/tty\w+"', f'"{tmp_path}/no-such-tty"', text)
    cfg = tmp_path / "line.toml"
    cfg.write_text(text)
    return cfg


def _record(tmp_path: Path, *log_args: str) -> subprocess.CompletedProcess[str]:
    cfg = _unreachable_line(tmp_path)
    argv = ["record", "--config", str(cfg), "--duration", "0.5", "--data-dir", str(tmp_path)]
    return subprocess.run(
        [sys.executable, "-m", "linecontrol", *argv, *log_args],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )


@pytest.mark.integration
def test_record_log_file_gets_the_log_lines_at_the_level_asked(tmp_path: Path) -> None:
    log_file = tmp_path / "record.log"
    p = _record(tmp_path, "--log-level", "info", "--log-file", str(log_file))
    assert p.returncode == 4, p.stderr  # no device answered
    assert not [ln for ln in p.stderr.splitlines() if LOG_LINE.match(ln)]  # all in the file
    lines = log_file.read_text().splitlines()
    assert lines and all(LOG_LINE.match(ln) for ln in lines), lines
    run_id = p.stdout.strip()
    info = [ln for ln in lines if " INFO linecontrol.record: " in ln]
    assert info and all(f"run {run_id}: " in ln for ln in info)
    warned = {
        m.group(1)
        for ln in lines
        if (m := re.search(r" WARNING linecontrol.acquisition: device (\S+): failing: ", ln))
    }
    # Every device polled before the stop failed, and each failure is one log line.
    [summary] = [ln for ln in p.stderr.splitlines() if ln.startswith("devices: ")]
    failed = set(re.findall(r"(\S+) never answered", summary))
    assert failed and warned == failed


@pytest.mark.integration
def test_record_log_level_filters_and_the_default_is_standard_error(tmp_path: Path) -> None:
    quiet = _record(tmp_path, "--log-level", "error")
    assert quiet.returncode == 4, quiet.stderr
    assert not [ln for ln in quiet.stderr.splitlines() if LOG_LINE.match(ln)]
    default = _record(tmp_path)
    logged = [ln for ln in default.stderr.splitlines() if LOG_LINE.match(ln)]
    assert logged and all(" WARNING " in ln or " ERROR " in ln for ln in logged)
    assert any(" WARNING linecontrol.acquisition: device drive: " in ln for ln in logged)


@pytest.mark.integration
def test_a_log_file_that_cannot_be_opened_is_one_error_line(tmp_path: Path) -> None:
    p = _record(tmp_path, "--log-file", str(tmp_path / "no" / "such" / "dir.log"))
    assert p.returncode == 2 and p.stdout == ""
    [line] = p.stderr.strip().splitlines()
    assert line.startswith("error: --log-file ") and "No such file or directory" in line


@pytest.mark.integration
@pytest.mark.parametrize(
    "command",
    [["-m", "simulators", "--config"], ["-m", "linecontrol", "sim", "--config"]],
    ids=["python -m simulators", "linecontrol sim"],
)
def test_the_simulators_log_into_their_log_file(tmp_path: Path, command: list[str]) -> None:
    log_file = tmp_path / "sim.log"
    argv = [sys.executable, *command, str(DEFAULT_LINE)]
    p = subprocess.Popen(
        [*argv, "--log-level", "info", "--log-file", str(log_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert p.stdout is not None
        ready, _, _ = select.select([p.stdout], [], [], DEADLINE_S)
        assert ready, "no address map within the deadline"
        assert p.stdout.readline().startswith("{")  # the address map: it serves
        p.send_signal(signal.SIGTERM)  # it stops cleanly
        assert p.wait(timeout=DEADLINE_S) == 0
    finally:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=DEADLINE_S)
        for f in (p.stdout, p.stderr):
            if f is not None:
                f.close()
    lines = log_file.read_text().splitlines()
    assert any(" INFO simulators: serving " in ln for ln in lines), lines
    assert any(ln.endswith(" INFO simulators: stopped") for ln in lines), lines


@pytest.mark.integration
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_log_file_that_cannot_be_written_is_one_error_line_before_anything_starts(
    tmp_path: Path,
) -> None:
    """B6: ``--log-file /dev/full`` opens fine; it used to flood 2853 'Logging error'
    tracebacks and end with one from close (exit 1)."""
    p = _record(tmp_path, "--log-file", "/dev/full")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == "error: --log-file /dev/full: No space left on device\n"
    assert [d for d in tmp_path.iterdir() if d.is_dir()] == []  # no run was started


def test_probing_a_log_file_leaves_it_as_it_was(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("an older line\n")
    runtime.logs.probe_log_file(log)
    assert log.read_text() == "an older line\n"


_FILLS_UP = textwrap.dedent(
    """
    import logging, resource, signal, sys
    from pathlib import Path
    from linecontrol import runtime

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (400, 400))
    with runtime.configured("info", Path(sys.argv[1])):
        for i in range(50):
            logging.getLogger("t").info("line %d of fifty", i)
    """
)


def test_a_log_file_that_fills_up_during_a_run_is_reported_once_and_loses_no_line(
    tmp_path: Path,
) -> None:
    """The file takes the first lines; the write that fails is reported in one line,
    and it and every later line go to standard error: no traceback."""
    log = tmp_path / "x.log"
    p = subprocess.run(
        [sys.executable, "-c", _FILLS_UP, str(log)],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
        cwd=ROOT,
    )
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and "Logging error" not in p.stderr
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error: ")]
    assert errors == [
        f"error: --log-file {log}: cannot write (File too large); "
        "log lines go to standard error from now on"
    ]
    in_file = [ln for ln in log.read_text().splitlines() if "of fifty" in ln]
    on_stderr = [ln for ln in p.stderr.splitlines() if "of fifty" in ln]
    assert in_file and on_stderr
    numbers = [int(ln.split("line ")[1].split()[0]) for ln in in_file + on_stderr]
    assert sorted(set(numbers)) == list(range(50))  # every line is somewhere
