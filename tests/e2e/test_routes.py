"""End to end: a recipe of every seed route run on the simulated line in accelerated
time, from Stopped to Complete, and its run log checked (``runcheck``: the states
passed, every zone's temperature within its band for each metre of web through it,
the linear pressure at the nip, no alarm, interlock or failed write).

Each run is a real ``linecontrol run`` (one through the command in a subprocess, the
others through ``run_recipe``): the simulators as a child process on the same
``ScaledClock``, acquisition over the real protocols, the supervisor, the run log.
Speed-up 300 puts the longest (001 Example 1, about 2.6 h of process with its 1 h
ramp and 30 min cure) at about 32 s of wall time; each run has its own wall deadline
and each test a larger one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from linecontrol.config import DEFAULT_LINE, RECIPES, load_line, load_recipe
from linecontrol.recording import RunOptions, run_recipe
from tests.e2e.runcheck import Report, check_run, notable, windows

SPEEDUP = 300.0
RUN_DEADLINE_S = 100.0  # real seconds for one run (under a minute is what each takes)
TEST_DEADLINE_S = 180.0  # real seconds for one test: the run, its start and its checks
STATES = ["Stopped", "Resetting", "Idle", "Starting", "Execute", "Completing", "Complete"]

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _checked(run_dir: Path, recipe_name: str) -> Report:
    """The run log of ``run_dir`` checked against its recipe; every check asserted."""
    recipe = load_recipe(RECIPES / f"{recipe_name}.toml")
    line = load_line(DEFAULT_LINE)
    report = check_run(run_dir, recipe, line)
    assert report.states == STATES
    assert report.unwanted == []
    assert report.failures == []
    # Every zone the recipe heats and the nip were checked, ...
    watched = {w.what for w in windows(recipe, line)}
    assert set(report.metres) == watched
    # Each on the metres that passed it in Execute (the run's length, less the window's,
    # less a metre for the partial ones at either end).
    assert recipe.run is not None and recipe.run.length_m is not None
    spans = {w.what: w.end_m - w.start_m for w in windows(recipe, line)}
    for what, n in report.metres.items():
        assert n >= max(1.0, recipe.run.length_m - spans[what] - 2), (what, n)
    return report


async def _run(recipe_name: str, data_dir: Path) -> Path:
    opts = RunOptions(
        config=DEFAULT_LINE,
        line=load_line(DEFAULT_LINE),
        recipe=RECIPES / f"{recipe_name}.toml",
        data_dir=data_dir,
        sim=True,
        speedup=SPEEDUP,
        deadline_s=RUN_DEADLINE_S,
    )
    result = await run_recipe(opts)
    if result.status != "complete":  # what the run log shows of why, in full
        pytest.fail("\n".join([result.status, *notable(result.run_dir)]), pytrace=False)
    assert result.final_state == "Complete"
    assert result.states == STATES
    assert result.run_log_errors == []
    return result.run_dir


@pytest.mark.deadline(TEST_DEADLINE_S)
def test_001_ex1_through_the_command(tmp_path: Path) -> None:
    """001 Example 1 (cast, 1 h ramp to 350 °C and 30 min at 350 °C, laminate at
    400 °C and 50 kg/cm) by ``linecontrol run``: exit 0, the run id printed."""
    recipe = load_recipe(RECIPES / "001-ex1.toml")
    assert recipe.press is not None
    assert recipe.press.roll_load_kg / (recipe.web.width_mm / 10.0) == 50.0  # kg/cm
    proc = subprocess.run(
        [sys.executable, "-m", "linecontrol", "run", "--recipe", str(RECIPES / "001-ex1.toml"),
         "--sim", "--speedup", f"{SPEEDUP:g}", "--deadline", f"{RUN_DEADLINE_S:g}",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=TEST_DEADLINE_S,
    )  # fmt: skip
    run_id = proc.stdout.strip()
    if proc.returncode != 0:
        why = notable(tmp_path / run_id) if run_id else []
        pytest.fail("\n".join([proc.stderr, *why]), pytrace=False)
    assert (tmp_path / run_id / "meta.json").is_file()
    report = _checked(tmp_path / run_id, "001-ex1")
    lo, hi = report.extremes["press nip linear pressure (kg/cm)"]
    assert 49.0 <= lo <= hi <= 51.0  # 1,500 ± 30 kg over 30 cm


@pytest.mark.deadline(TEST_DEADLINE_S)
async def test_004_ex1(tmp_path: Path) -> None:
    """004 Example 1: cure 180/250/350 °C with the slow cool, laminate 320 °C, 15 kg/cm."""
    _checked(await _run("004-ex1", tmp_path), "004-ex1")


@pytest.mark.deadline(TEST_DEADLINE_S)
async def test_000_sputter_fusion(tmp_path: Path) -> None:
    """000: sputter on thermoplastic PI (no oven on the route), fuse at 300 °C, 20 kg/cm."""
    report = _checked(await _run("000-sputter-fusion", tmp_path), "000-sputter-fusion")
    assert not [w for w in report.metres if w.startswith("zone")]


@pytest.mark.deadline(TEST_DEADLINE_S)
async def test_003_coated_resin(tmp_path: Path) -> None:
    """003: PAI coat, predry at 120 °C, heat-treat at 300 °C under N2 (no press)."""
    report = _checked(await _run("003-coated-resin", tmp_path), "003-coated-resin")
    assert not [w for w in report.metres if w.startswith("press")]


@pytest.mark.deadline(TEST_DEADLINE_S)
async def test_002_adhesion_film(tmp_path: Path) -> None:
    """002: both faces coated (the back one through the turn bar), cured at 400 °C,
    sputtered (no press)."""
    _checked(await _run("002-adhesion-film", tmp_path), "002-adhesion-film")
