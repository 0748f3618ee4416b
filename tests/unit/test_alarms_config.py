"""Alarm definitions in the line config: the shipped lines carry the same alarms, and a
bad ``[alarms.<id>]`` table is an ``InputFileError`` naming the file, the field, the
value and what is allowed (non-finite numbers refused, never clamped)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from linecontrol.config import CONFIGS, DEFAULT_LINE, AlarmDefinition, load_line
from linecontrol.errors import InputFileError

LINE_TOML = CONFIGS / "line.toml"


def _line_with(tmp_path: Path, table: str) -> Path:
    """The shipped simulated line without its alarms, plus ``table``."""
    text = DEFAULT_LINE.read_text(encoding="utf-8")
    text = text.split(
        "# ------------------------------------------------------------------ alarms"
    )[0]
    path = tmp_path / "line.toml"
    path.write_text(text + "\n" + table, encoding="utf-8")
    return path


def _problems(tmp_path: Path, table: str) -> list[str]:
    with pytest.raises(InputFileError) as info:
        load_line(_line_with(tmp_path, table))
    return [str(p) for p in info.value.problems]


def test_both_shipped_lines_have_the_same_alarms() -> None:
    sim, hw = load_line(DEFAULT_LINE), load_line(LINE_TOML)
    assert sim.alarms == hw.alarms
    a = sim.alarms
    assert a["o2_cure_high"].consequence == "none" and a["o2_cure_high"].kind == "high"
    trip = a["o2_cure_trip"]
    assert (trip.kind, trip.consequence, trip.latching) == ("high_high", "hold", True)
    assert trip.limit is not None and a["o2_cure_high"].limit is not None
    assert trip.limit > a["o2_cure_high"].limit
    zones = [z.name for s in sim.stations if s.name == "cure_oven" for z in s.zones]  # type: ignore[union-attr]
    for z in zones:
        assert a[f"zone_{z}_temp_hh"].consequence == "hold"
    low = a["web_tension_low"]
    assert low.kind == "low" and {"Stopped", "Held", "Idle", "Aborted"} <= set(low.suppress_in)
    assert a["press_load_high"].consequence == "hold"
    assert a["press_load_trip"].consequence == "abort"
    assert a["web_break"].kind == "discrete" and a["web_break"].bit == 2
    # one communication-loss alarm per device
    comm = {d.device for d in a.values() if d.kind == "comm_loss"}
    assert comm == set(sim.devices)


def test_a_minimal_table_takes_the_stated_defaults(tmp_path: Path) -> None:
    line = load_line(
        _line_with(
            tmp_path, '[alarms.t]\nchannel = "press.roll_load_pv_kg"\nkind = "high"\nlimit = 1\n'
        )
    )
    d = line.alarms["t"]
    assert (d.priority, d.deadband, d.on_delay_s, d.off_delay_s) == ("medium", 0.0, 0.0, 0.0)
    assert (d.latching, d.consequence, d.suppress_in, d.guidance) == (False, "none", [], "")
    assert d.max_shelve_s == 8 * 3600.0 and d.device == "press"


BAD: list[tuple[str, str, list[str]]] = [
    # (the table, the field the problem names, words the message has)
    (
        'channel = "nope.temp_pv_c"\nkind = "high"\nlimit = 1',
        "",
        ["alarms.t.channel", "'nope.temp_pv_c'", "no device 'nope'", "zone_C01"],
    ),
    (
        'channel = "zone_C01.temp"\nkind = "high"\nlimit = 1',
        "",
        ["alarms.t.channel", "declares no channel 'temp'", "temp_pv_c"],
    ),
    ('channel = "zone_C01"\nkind = "high"\nlimit = 1', "alarms.t.channel", ["pattern"]),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "very_high"\nlimit = 1',
        "alarms.t.kind",
        ["high_high", "'very_high'"],
    ),
    ('channel = "zone_C01.temp_pv_c"\nkind = "high"', "alarms.t", ["needs a limit"]),
    ('channel = "zone_C01.temp_pv_c"\nkind = "high"\nlimit = nan', "alarms.t.limit", ["finite"]),
    ('channel = "zone_C01.temp_pv_c"\nkind = "high"\nlimit = inf', "alarms.t.limit", ["finite"]),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "high"\nlimit = 1\ndeadband = -1',
        "alarms.t.deadband",
        ["greater than or equal to 0", "-1"],
    ),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "high"\nlimit = 1\non_delay_s = -0.5',
        "alarms.t.on_delay_s",
        ["greater than or equal to 0"],
    ),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "high"\nlimit = 1\npriority = "critical"',
        "alarms.t.priority",
        ["urgent", "'critical'"],
    ),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "high"\nlimit = 1\nconsequence = "halt"',
        "alarms.t.consequence",
        ["abort", "'halt'"],
    ),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "high"\nlimit = 1\nsuppress_in = ["Parked"]',
        "alarms.t.suppress_in[0]",
        ["Stopped", "'Parked'"],
    ),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "high"\nlimit = 1\nsuppress_in = ["Held", "Held"]',
        "alarms.t",
        ["repeats", "Held"],
    ),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "high"\nlimit = 1\nmax_shelve_s = 0',
        "alarms.t.max_shelve_s",
        ["greater than 0"],
    ),
    ('channel = "zone_C01.temp_pv_c"\nkind = "high"\nlimit = "1"', "alarms.t.limit", ["'1'"]),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "high"\nlimit = 1\ncolour = "red"',
        "alarms.t.colour",
        ["unknown key"],
    ),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "high"\nlimit = 1\nbit = 1',
        "alarms.t",
        ["bit = 1", "only a discrete alarm"],
    ),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "deviation"\nlimit = 0',
        "alarms.t",
        ["limit = 0", "above 0"],
    ),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "deviation"\nlimit = 5\ndeadband = 5',
        "alarms.t",
        ["deadband = 5", "below the limit (5"],
    ),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "deviation"\nlimit = 5\nsetpoint = "zone_C01.nope"',
        "",
        ["alarms.t.setpoint", "declares no channel 'nope'"],
    ),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "rate_of_change"\nlimit = 5',
        "alarms.t",
        ["needs window_s"],
    ),
    (
        'channel = "zone_C01.temp_pv_c"\nkind = "rate_of_change"\nlimit = 5\nwindow_s = 0',
        "alarms.t.window_s",
        ["greater than 0"],
    ),
    ('channel = "drive.status"\nkind = "discrete"', "alarms.t", ["exactly one of bit"]),
    (
        'channel = "drive.status"\nkind = "discrete"\nbit = 2\nequals = 4',
        "alarms.t",
        ["exactly one of bit"],
    ),
    (
        'channel = "drive.status"\nkind = "discrete"\nbit = 9',
        "",
        ["alarms.t.bit = 9", "no bit 9", "2 web_break"],
    ),
    (
        'channel = "drive.status"\nkind = "discrete"\nbit = 64',
        "alarms.t.bit",
        ["less than or equal to 63"],
    ),
    (
        'channel = "drive.status"\nkind = "discrete"\nbit = 2\nlimit = 1',
        "alarms.t",
        ["limit = 1", "has no limit"],
    ),
    (
        'channel = "drive.status"\nkind = "comm_loss"\ndeadband = 1',
        "alarms.t",
        ["deadband = 1", "has none"],
    ),
]


@pytest.mark.parametrize(("table", "field", "words"), BAD)
def test_a_bad_alarm_table_is_named(
    tmp_path: Path, table: str, field: str, words: list[str]
) -> None:
    problems = _problems(tmp_path, f"[alarms.t]\n{table}\n")
    assert len(problems) == 1, problems
    (text,) = problems
    assert text.startswith(str(tmp_path / "line.toml"))
    if field:
        assert f": {field}: " in text, text
    for w in words:
        assert w in text, (w, text)


def test_an_alarm_id_is_a_plain_name(tmp_path: Path) -> None:
    problems = _problems(tmp_path, '[alarms."a b"]\nchannel = "drive.status"\nkind = "comm_loss"\n')
    assert any("alarms" in p and "pattern" in p for p in problems)


def test_the_definitions_are_frozen() -> None:
    d = load_line(DEFAULT_LINE).alarms["web_break"]
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        d.limit = 3.0
    data: dict[str, Any] = tomllib.loads(DEFAULT_LINE.read_text())["alarms"]["web_break"]
    assert AlarmDefinition.model_validate(data) == d


def test_the_readme_example_is_a_valid_table_of_the_shipped_lines() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Alarms: `[alarms.<id>]` in the line config", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (alarm_id, table), *_ = tomllib.loads(example)["alarms"].items()
    assert AlarmDefinition.model_validate(table) == load_line(DEFAULT_LINE).alarms[alarm_id]
