"""What the supervisor keeps on disk across a restart: its running marker (a supervisor
that did not end cleanly boots into Aborted) and the alarm states (acknowledgements,
shelves and latches survive; a damaged file is set aside and logged, never used)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from linecontrol.acquisition import Acquisition
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.model import Event, ShelveAlarm
from linecontrol.runtime import ManualClock
from linecontrol.supervisor import Supervisor, SupervisorError
from linecontrol.supervisor import core as sup
from tests.supervision_plant import Plant

LINE = load_line(DEFAULT_LINE)


@pytest.fixture
async def acq() -> AsyncIterator[Acquisition]:
    a = Acquisition(LINE, ManualClock())  # built, never run: nothing is polled
    yield a
    await a.close()


def shell(acq: Acquisition, state_dir: Path) -> Supervisor:
    events: list[Event] = []
    return Supervisor(LINE, acq, ManualClock(), on_event=events.append, state_dir=state_dir)


async def test_a_supervisor_that_did_not_end_cleanly_is_known_at_the_next_boot(
    acq: Acquisition, tmp_path: Path
) -> None:
    first = shell(acq, tmp_path)
    assert first.boot_state(0.0) is None and first.clean_boot
    # Killed here: the marker stays (and the kernel releases the lock).
    first.release_lock()
    second = shell(acq, tmp_path)
    second.boot_state(0.0)
    assert not second.clean_boot
    second.ended_cleanly()
    third = shell(acq, tmp_path)
    third.boot_state(0.0)
    assert third.clean_boot


async def test_a_shelve_survives_a_restart(acq: Acquisition, tmp_path: Path) -> None:
    first = shell(acq, tmp_path)
    first.boot_state(0.0)
    core, _ = sup.boot(LINE, 0.0)
    shelve = ShelveAlarm(by="ana", request_id="s1", alarm="comm_coater_3", reason="coater 3 "
                         "is being serviced", duration_s=3600.0)  # fmt: skip
    sample = Plant(LINE).sample(1.0)
    first.core, _, _ = sup.step(core, 1.0, sample, [shelve])
    assert first.core.alarms["comm_coater_3"].shelved
    first.save_alarms()
    first.ended_cleanly()
    second = shell(acq, tmp_path)
    kept = second.boot_state(0.0)
    assert kept is not None and kept["comm_coater_3"].shelved
    assert kept["comm_coater_3"].shelve_reason == "coater 3 is being serviced"
    assert second.clean_boot


async def test_a_damaged_alarm_file_is_set_aside_and_logged(
    acq: Acquisition, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "alarms.json").write_text('{"alarms": {"x": [1, 2', encoding="utf-8")
    s = shell(acq, tmp_path)
    with caplog.at_level(logging.ERROR, logger="linecontrol.supervisor"):
        assert s.boot_state(0.0) is None
    assert "unreadable" in caplog.text
    aside = list(tmp_path.glob("alarms.damaged.*.json"))
    assert len(aside) == 1 and aside[0].read_text(encoding="utf-8").startswith('{"alarms"')
    assert not (tmp_path / "alarms.json").exists()


async def test_a_core_failure_writes_the_safe_state_and_is_an_unclean_stop(
    acq: Acquisition, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug in the core")

    s = shell(acq, tmp_path)
    task = asyncio.create_task(s.run())
    for _ in range(1000):  # until it has booted (bounded in loop turns)
        if s.core is not None:
            break
        await asyncio.sleep(0)
    assert s.core is not None
    monkeypatch.setattr(sup, "step", broken)
    with caplog.at_level(logging.ERROR, logger="linecontrol.supervisor"):
        acq.sample()  # one row: the core is stepped on it and fails
        with pytest.raises(SupervisorError, match="a bug in the core"):
            await asyncio.wait_for(task, 30)
    # Every device was tried (none answers here: nothing serves the placeholders).
    assert "safe state (supervisor core failed): no answer from" in caplog.text
    assert (tmp_path / "supervisor.running").exists()  # the next start boots into Aborted
    nxt = shell(acq, tmp_path)
    nxt.boot_state(0.0)
    assert not nxt.clean_boot


async def test_a_second_supervisor_on_one_state_dir_is_refused_and_leaves_it_alone(
    acq: Acquisition, tmp_path: Path
) -> None:
    from linecontrol.supervisor import SupervisorRunning

    first = shell(acq, tmp_path)
    first.boot_state(0.0)
    second = shell(acq, tmp_path)
    with pytest.raises(SupervisorRunning, match="another supervisor"):
        second.boot_state(0.0)
    assert second.clean_boot  # the first's marker is no unclean end
    assert (tmp_path / "supervisor.running").exists()
    first.ended_cleanly()  # releases the lock
    third = shell(acq, tmp_path)
    third.boot_state(0.0)
    assert third.clean_boot
    third.ended_cleanly()
