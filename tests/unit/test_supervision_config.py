"""The supervisor's configuration: the [supervisor] table of the line config, a recipe's
[run] end and rewind taper, the rewind station's build-up (validated once, clear errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from linecontrol.config import (
    DEFAULT_LINE,
    RECIPES,
    RewindStation,
    load_line,
    load_recipe,
)
from linecontrol.errors import InputFileError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "x.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_hold_and_a_table_overrides(tmp_path: Path) -> None:
    line = load_line(DEFAULT_LINE)
    assert line.supervisor.purge_gate_c == 150.0 and line.supervisor.web_break_cycles == 3
    text = DEFAULT_LINE.read_text(encoding="utf-8") + "\n[supervisor]\nweb_break_cycles = 5\n"
    assert load_line(write(tmp_path, text)).supervisor.web_break_cycles == 5


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("web_break_tension_fraction = 1.0", "web_break_tension_fraction"),
        ("web_break_cycles = 0", "web_break_cycles"),
        ("purge_time_s = nan", "purge_time_s"),
        ("o2_trip_ppm = inf", "o2_trip_ppm"),
        ("unknown_setting = 1", "unknown_setting"),
    ],
)
def test_bad_settings_name_the_file_and_field(tmp_path: Path, line: str, field: str) -> None:
    text = DEFAULT_LINE.read_text(encoding="utf-8") + f"\n[supervisor]\n{line}\n"
    path = write(tmp_path, text)
    with pytest.raises(InputFileError) as err:
        load_line(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_every_shipped_recipe_says_when_a_run_is_complete() -> None:
    for path in sorted(RECIPES.glob("*.toml")):
        run = load_recipe(path).run
        assert run is not None and run.length_m is not None and run.length_m > 0, path


@pytest.mark.parametrize(
    "run", ["[run]\n", "[run]\nlength_m = 5.0\ntime_min = 3.0\n", "[run]\nlength_m = -1.0\n"]
)
def test_a_run_end_is_exactly_one_positive_measure(tmp_path: Path, run: str) -> None:
    text = (RECIPES / "001-ex1.toml").read_text(encoding="utf-8")
    start = text.index("[run]")
    end = text.index("[material]")
    path = write(tmp_path, text[:start] + run + "\n" + text[end:])
    with pytest.raises(InputFileError) as err:
        load_recipe(path)
    assert "run" in str(err.value)


def test_taper_is_a_percentage_below_100(tmp_path: Path) -> None:
    text = (RECIPES / "001-ex1.toml").read_text(encoding="utf-8")
    text = text.replace(
        "tension_tolerance_n = 10.0", "tension_tolerance_n = 10.0\nrewind_taper_pct = 100.0"
    )
    with pytest.raises(InputFileError, match="rewind_taper_pct"):
        load_recipe(write(tmp_path, text))


def test_rewind_build_up_diameters_go_together_in_order() -> None:
    base = {"name": "rewind", "kind": "rewind", "distance_m": 1.0, "max_tension_n": 100.0}
    assert RewindStation.model_validate({**base}).core_diameter_mm is None
    with pytest.raises(ValueError, match="go together"):
        RewindStation.model_validate({**base, "core_diameter_mm": 152.0})
    with pytest.raises(ValueError, match="below"):
        RewindStation.model_validate({**base, "core_diameter_mm": 800.0, "full_diameter_mm": 152.0})
