"""``linecontrol run`` as a user runs it: what is refused before anything starts (a
recipe the rules or the plan reject, a config of simulator placeholders without
``--sim``, a data root another supervisor holds), and the run id's real wall time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import pytest

from linecontrol.config import DEFAULT_LINE, RECIPES

pytestmark = pytest.mark.integration


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linecontrol", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def runs_in(data: Path) -> list[Path]:
    return [p for p in data.iterdir() if not p.name.startswith(".")] if data.exists() else []


@pytest.mark.parametrize(
    ("recipe", "rules"),
    [
        ("001-comp1.toml", ["press.temp_vs_tg"]),
        ("001-comp2.toml", ["press.thermoplastic_surface", "equip.press"]),
        ("002-thick-layer.toml", ["film.thin_layer"]),
    ],
)
def test_a_recipe_the_rules_reject_is_refused_before_anything_starts(
    tmp_path: Path, recipe: str, rules: list[str]
) -> None:
    data = tmp_path / "data"
    p = cli("run", "--sim", "--recipe", str(RECIPES / recipe), "--data-dir", str(data))
    assert p.returncode == 2, p.stderr
    lines = p.stderr.splitlines()
    for rule in rules:
        hits = [ln for ln in lines if f"[{rule}] " in ln]
        assert len(hits) == 1, p.stderr
        assert hits[0].startswith("error: recipe ") and "Violation(" not in hits[0]
    assert "simulators" not in p.stderr and p.stdout == ""
    assert runs_in(data) == []  # no run directory


def test_a_recipe_without_a_run_end_is_refused_and_recipe_check_warns(tmp_path: Path) -> None:
    text = (RECIPES / "001-ex1.toml").read_text(encoding="utf-8")
    kept, inside = [], False
    for ln in text.splitlines(keepends=True):
        if ln.startswith("["):
            inside = ln.strip() == "[run]"
        if not inside:
            kept.append(ln)
    cut = "".join(kept)
    assert "[run]" not in cut
    recipe = tmp_path / "no-end.toml"
    recipe.write_text(cut, encoding="utf-8")
    data = tmp_path / "data"
    p = cli("run", "--sim", "--recipe", str(recipe), "--data-dir", str(data))
    assert p.returncode == 2, p.stderr
    assert "no [run] end" in p.stderr and p.stdout == ""
    assert runs_in(data) == []
    chk = cli("recipe", "check", str(recipe))
    assert chk.returncode == 0, chk.stdout + chk.stderr
    assert "! [run.end] no [run] end" in chk.stdout
    assert "PASS (with warnings)" in chk.stdout


def test_placeholder_addresses_without_sim_are_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    p = cli("run", "--data-dir", str(data))  # the embedded line.sim.toml: port 0, pty
    assert p.returncode == 2, p.stderr
    assert "the config's addresses are the simulator's placeholders" in p.stderr
    assert "use --sim" in p.stderr
    assert runs_in(data) == []


def wait_until(cond: Callable[[], bool], deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline_s} s: {what}")
        time.sleep(0.01)  # polling interval, not synchronisation: the condition decides


def test_a_second_supervisor_on_one_data_root_is_refused_and_run_ids_are_real_time(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    before = time.time()
    first = subprocess.Popen(
        [sys.executable, "-m", "linecontrol", "run", "--sim", "--speedup", "1000",
         "--deadline", "60", "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(
            lambda: any(data.glob("*/meta.json")) or first.poll() is not None,
            60,
            "the first run starts",
        )
        assert first.poll() is None, first.communicate()
        second = cli("run", "--sim", "--data-dir", str(data))
        assert second.returncode == 2, second.stderr
        assert "another supervisor" in second.stderr and "nothing run" in second.stderr
        assert "did not end cleanly" not in second.stderr
        assert len(runs_in(data)) == 1  # the second made no run
        (run_dir,) = runs_in(data)
        meta = json.loads((run_dir / "meta.json").read_text(encoding="utf-8"))
        # Real wall time, not the scaled clock's (1000 x the start-up seconds ahead).
        assert before <= meta["start_wall"] <= time.time()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(meta["start_wall"]))
        assert run_dir.name.startswith(stamp), (run_dir.name, stamp)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGTERM)
        try:
            first.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(first.pid, signal.SIGKILL)
            first.communicate()
    # The lock went with the first: another supervisor may have the data root now.
    from linecontrol.supervisor import StateLock

    lock = StateLock(data / ".supervisor")
    lock.acquire()
    lock.release()


def test_run_ids_and_start_are_real_wall_time_at_a_speedup(tmp_path: Path) -> None:
    data = tmp_path / "data"
    before = time.time()
    p = cli("run", "--sim", "--speedup", "1000", "--deadline", "2", "--data-dir", str(data))
    after = time.time()
    assert p.returncode == 6, p.stderr  # ended by the deadline
    (run_dir,) = runs_in(data)
    assert p.stdout.strip() == run_dir.name
    meta = json.loads((run_dir / "meta.json").read_text(encoding="utf-8"))
    # The scaled clock's wall had run 1000 x the simulator's start-up seconds ahead.
    assert before <= meta["start_wall"] <= after
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(meta["start_wall"]))
    assert run_dir.name.startswith(stamp), (run_dir.name, stamp)
    # The speed-up is kept with the run and said where its times are shown.
    assert meta["speedup"] == 1000.0
    shown = cli("runs", "--data-dir", str(data), "show", run_dir.name)
    assert "1000x real time" in shown.stdout, shown.stdout


def test_after_an_unclean_stop_a_run_starts_nothing_unless_told_to_clear(tmp_path: Path) -> None:
    """A run killed outright (SIGKILL: no clean-up at all) leaves the machine to boot
    into Aborted. The next run does not clear that by itself: it starts nothing and
    says to check the line and give --clear; with --clear it clears, then runs."""
    data = tmp_path / "data"
    first = subprocess.Popen(
        [sys.executable, "-m", "linecontrol", "run", "--sim", "--speedup", "1000",
         "--deadline", "60", "--data-dir", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(
            lambda: (data / ".supervisor" / "supervisor.running").exists()
            or first.poll() is not None,
            60,
            "the first run's supervisor runs",
        )
        assert first.poll() is None
    finally:
        with suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)  # it and its simulators, no clean-up
        first.wait(timeout=30)
    second = cli("run", "--sim", "--speedup", "1000", "--data-dir", str(data))
    assert second.returncode == 6, second.stderr
    assert "did not end cleanly" in second.stderr and "--clear" in second.stderr
    assert "Resetting" not in second.stderr and "Clearing" not in second.stderr
    # It ended cleanly, but in Aborted: the Abort stands for the next one all the same.
    again = cli("run", "--sim", "--speedup", "1000", "--data-dir", str(data))
    assert again.returncode == 6 and "--clear" in again.stderr, again.stderr
    third = cli(
        "run", "--sim", "--speedup", "1000", "--deadline", "4", "--clear",
        "--data-dir", str(data),
    )  # fmt: skip
    assert "Aborted -> Clearing -> Stopped -> Resetting" in third.stderr, third.stderr


def test_a_latched_alarm_from_an_earlier_run_is_named_with_how_to_clear_it(
    tmp_path: Path,
) -> None:
    """A web break flagged from the start latches the web_break alarm (kept on disk);
    the next run on the data root, on the normal line, starts nothing and says that the
    alarm stands and how to acknowledge and reset it."""
    data = tmp_path / "data"
    text = DEFAULT_LINE.read_text(encoding="utf-8")
    head = '[devices.drive]\nmodel = "line_drive"\n'
    assert head in text
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace(head, head + "faults = { web_break = true }\n", 1), "utf-8")
    first = cli(
        "run", "--sim", "--speedup", "1000", "--config", str(broken), "--data-dir", str(data)
    )  # fmt: skip
    assert first.returncode == 6 and "alarm: web_break" in first.stderr, first.stderr
    second = cli("run", "--sim", "--speedup", "1000", "--data-dir", str(data))
    assert second.returncode == 6, second.stderr
    assert "alarm: web_break" in second.stderr and "reset_alarm" in second.stderr
