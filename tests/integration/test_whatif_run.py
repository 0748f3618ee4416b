"""What-if on a run recorded against the simulators: with the run's own alarm definitions
(and its recipe, as logged) it reproduces the live alarm journal exactly, every
transition, alarm, label, cause and time; other definitions change it; a torn run is
evaluated up to its last complete batch.

The run: the fault tests' recipe on the simulated line (``run_recipe``, ``--sim`` at a
speed-up), in Execute a small air leak into the cure oven (O2 to about 100 ppm: above
the recipe's 50 ppm limit of ``o2_cure_high``, below the 200 ppm trip), the operator
acknowledges the alarm, the leak is stopped, the alarm clears, the line is stopped.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from linecontrol.cli.entry import main
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.model import AcknowledgeAlarm, AlarmInputs, AlarmStatesKept, ShelveAlarm, Stop
from linecontrol.recording import RunOptions, RunResult, run_recipe
from linecontrol.recording.runner import RunHandle
from linecontrol.runlog import load_events, segment_paths
from linecontrol.runtime import clear_faults, inject_faults
from linecontrol.whatif import Logged, compare, evaluate, load_run

pytestmark = [pytest.mark.integration, pytest.mark.deadline(120)]

RECIPE = Path(__file__).parent / "data" / "fault-run.toml"
SPEEDUP = 1000.0
DEADLINE_S = 30.0  # real seconds for each stage of the script
ALARM = "o2_cure_high"
SHELVE_S = 28_000.0  # line seconds: past the end of the next run (under the 8 h maximum)


def label(h: RunHandle, alarm: str) -> str:
    return h.supervisor.alarm_states()[1][alarm].label


async def until(h: RunHandle, pred: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(DEADLINE_S):
            await h.supervisor.wait_for(lambda _s: pred())
    except TimeoutError:
        raise AssertionError(f"{what}: not within {DEADLINE_S:g} s") from None


async def script(h: RunHandle) -> None:
    await until(h, lambda: h.supervisor.state.label == "Execute", "Execute")
    assert h.sim is not None
    await inject_faults(h.sim, "o2_cure", {"o2_leak_m3_min": 0.00012}, 5.0)
    await until(h, lambda: label(h, ALARM) == "UNACK", f"{ALARM} raised")
    h.supervisor.submit(
        AcknowledgeAlarm(alarm=ALARM, by="op", request_id="ack-1", at=h.clock.wall())
    )
    await until(h, lambda: label(h, ALARM) == "ACKED", f"{ALARM} acknowledged")
    await clear_faults(h.sim, "o2_cure", 5.0)
    await until(h, lambda: label(h, ALARM) == "NORM", f"{ALARM} cleared")
    # Shelved for the next run on this data root (kept in its alarm-state file).
    h.supervisor.submit(
        ShelveAlarm(alarm=ALARM, by="op", request_id="shelve-1", at=h.clock.wall(),
                    reason="sensor check", duration_s=SHELVE_S)
    )  # fmt: skip
    await until(h, lambda: label(h, ALARM) == "SHLVD", f"{ALARM} shelved")
    h.supervisor.submit(Stop(by="op", request_id="end", at=h.clock.wall(), reason="done"))


async def script_again(h: RunHandle) -> None:
    """The next run: the alarm is still shelved; the same leak is silent."""
    await until(h, lambda: h.supervisor.state.label == "Execute", "Execute")
    assert h.sim is not None and label(h, ALARM) == "SHLVD"
    await inject_faults(h.sim, "o2_cure", {"o2_leak_m3_min": 0.00012}, 5.0)

    def active() -> bool:
        return h.supervisor.alarm_states()[1][ALARM].active

    await until(h, active, f"{ALARM} active (shelved)")
    await clear_faults(h.sim, "o2_cure", 5.0)
    await until(h, lambda: not active(), f"{ALARM} clear (shelved)")
    h.supervisor.submit(Stop(by="op", request_id="end", at=h.clock.wall(), reason="done"))


def record(data: Path, run_script: Callable[[RunHandle], Coroutine[Any, Any, None]]) -> RunResult:
    """The run, once its script went through to its end (else the script's failure, with
    how the run ended: a line held by a loaded machine is said, not taken for what-if's)."""
    done: list[BaseException | None] = []

    async def watched(h: RunHandle) -> None:
        try:
            await run_script(h)
        except BaseException as exc:
            done.append(exc)
            raise
        done.append(None)

    opts = RunOptions(
        config=DEFAULT_LINE, line=load_line(DEFAULT_LINE), recipe=RECIPE, data_dir=data,
        sim=True, speedup=SPEEDUP, deadline_s=4 * DEADLINE_S, script=watched,
    )  # fmt: skip
    result = asyncio.run(run_recipe(opts))
    assert done == [None], (
        f"the run's script did not complete ({done!r}); the run ended {result.status!r}, "
        f"states {result.states}, first out {result.first_out!r}"
    )
    return result


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("whatif-runs")


@pytest.fixture(scope="module")
def recorded(data_root: Path) -> RunResult:
    return record(data_root, script)


@pytest.fixture(scope="module")
def recorded_again(data_root: Path, recorded: RunResult) -> RunResult:
    """The next run on the same data root: it boots with the first run's alarm states."""
    return record(data_root, script_again)


def test_the_runs_own_alarms_reproduce_its_alarm_journal_exactly(recorded: RunResult) -> None:
    run = load_run(recorded.run_dir)
    assert not run.approximate and run.line is not None, run.warnings
    labels = [(t.old, t.new) for t in run.live if t.alarm == ALARM]
    # Raised, acknowledged and cleared in Execute (and what the states did by design).
    assert ("NORM", "UNACK") in labels and ("UNACK", "ACKED") in labels, labels
    assert ("ACKED", "NORM") in labels, labels
    assert any(isinstance(e.event, AlarmInputs) for e in load_events(recorded.run_dir).events)
    res = evaluate(run.line.alarms, run.rows, run.logged)
    assert run.logged.last_step is not None and res.end == run.logged.last_step
    assert [t.key() for t in res.journal] == [t.key() for t in run.live]
    assert [t.web_position_m for t in res.journal] == [t.web_position_m for t in run.live]
    assert compare(run.live, res.journal).identical
    assert res.rejected == []


def test_the_cli_says_identical_for_the_runs_own_line_and_shows_a_changed_limit(
    recorded: RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(recorded.run_dir.parent)
    code = main(["whatif", recorded.run_id, "--data-dir", root, "--alarms", str(DEFAULT_LINE),
                 "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["comparison"]["identical"], out["comparison"]
    assert out["live"]["measures"]["alarms"] == out["whatif"]["measures"]["alarms"] >= 1
    # The same alarm at a fixed 500 ppm: the leak's 100 ppm raises nothing.
    alarms = tmp_path / "alarms.toml"
    alarms.write_text(
        f'[alarms.{ALARM}]\nchannel = "o2_cure.o2_ppm"\nkind = "high"\nlimit = 500.0\n'
        'suppress_in = ["Stopped", "Idle", "Starting", "Stopping", "Aborted", "Complete"]\n'
    )
    code = main(["whatif", str(recorded.run_dir), "--alarms", str(alarms)])
    text = capsys.readouterr().out
    assert code == 0
    assert "journals  different" in text and f"removed {ALARM}" in text, text
    # Another recipe's windows: a 20 ppm limit raises the alarm as soon as Execute
    # suppresses it no more (the oven holds about 30 ppm without the leak): earlier.
    recipe = tmp_path / "recipe.toml"
    text = RECIPE.read_text()
    assert text.count("o2_limit_ppm = 50.0") == 1
    recipe.write_text(text.replace("o2_limit_ppm = 50.0", "o2_limit_ppm = 20.0"))
    code = main(["whatif", str(recorded.run_dir), "--alarms", str(DEFAULT_LINE),
                 "--recipe", str(recipe), "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    [moved] = out["comparison"]["moved"]
    assert code == 0 and moved["alarm"] == ALARM and moved["shift_s"] < 0, out["comparison"]
    # A bad definition: named with its file, field and value; exit 2.
    alarms.write_text(f'[alarms.{ALARM}]\nchannel = "o2_cure.o2_ppm"\nkind = "hihg"\n')
    code = main(["whatif", str(recorded.run_dir), "--alarms", str(alarms)])
    err = capsys.readouterr().err
    assert code == 2 and str(alarms) in err and "kind" in err and "hihg" in err, err
    # A channel the run's line does not have.
    alarms.write_text(f'[alarms.{ALARM}]\nchannel = "nowhere.o2_ppm"\nkind = "comm_loss"\n')
    code = main(["whatif", str(recorded.run_dir), "--alarms", str(alarms)])
    err = capsys.readouterr().err
    assert code == 2 and "nowhere" in err, err


def test_a_torn_run_is_evaluated_up_to_its_last_complete_batch(
    recorded: RunResult, tmp_path: Path
) -> None:
    torn = tmp_path / recorded.run_dir.name
    shutil.copytree(recorded.run_dir, torn)
    for p in [*torn.glob("samples.parquet"), *torn.glob("samples/*.idx")]:
        p.unlink()
    last = segment_paths(torn / "samples")[-1]
    data = last.read_bytes()
    last.write_bytes(data[: len(data) - 200])  # the writer killed in its last batch
    run = load_run(torn)
    whole = load_run(recorded.run_dir)
    assert len(run.rows.t) < len(whole.rows.t)
    assert any("torn" in w for w in run.warnings), run.warnings
    assert run.line is not None
    res = evaluate(run.line.alarms, run.rows, run.logged)
    end = float(run.rows.t[-1])
    assert res.end == end
    assert [t.key() for t in res.journal] == [t.key() for t in whole.live if t.t <= end]
    assert run.beyond == len([t for t in whole.live if t.t > end])


def test_a_run_that_boots_with_kept_alarm_states_is_reproduced_from_them(
    recorded_again: RunResult,
) -> None:
    """The second run boots with the first one's shelve (logged: AlarmStatesKept): the
    leak raises nothing it would have raised from normal, and what-if starts there too."""
    run = load_run(recorded_again.run_dir)
    assert run.logged.kept is not None and run.line is not None
    assert run.logged.kept.alarms[ALARM].shelved_until is not None
    assert not [t for t in run.live if t.alarm == ALARM and t.raised], run.live
    res = evaluate(run.line.alarms, run.rows, run.logged)
    assert [t.key() for t in res.journal] == [t.key() for t in run.live]
    # From normal instead (what the run log held before it logged the kept states), the
    # same samples would have annunciated the leak: not the run that happened.
    lg = run.logged
    fresh = evaluate(run.line.alarms, run.rows, Logged(lg.inputs, lg.actions, lg.skipped))
    assert any(t.alarm == ALARM and t.raised for t in fresh.journal)
    assert any(isinstance(e.event, AlarmStatesKept)
               for e in load_events(recorded_again.run_dir).events)  # fmt: skip
