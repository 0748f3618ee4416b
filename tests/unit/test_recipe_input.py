"""Bad recipe and line files: one clear message each, naming file, field and line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from linecontrol.config import DEFAULT_LINE, RECIPES, load_line, load_recipe
from linecontrol.errors import InputFileError

BASE = (RECIPES / "001-ex2.toml").read_text()


def write(tmp_path: Path, text: str, name: str = "r.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def problems(path: Path, loader=load_recipe) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(InputFileError) as info:
        loader(path)
    return [str(p) for p in info.value.problems]


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    text = BASE.replace("speed_m_min = 0.3", "speed_m_min = = 0.3")
    line_no = text.splitlines().index("speed_m_min = = 0.3") + 1
    p = write(tmp_path, text)
    [msg] = problems(p)
    assert msg.startswith(f"{p}:{line_no}: TOML syntax error")
    # The column stays readable once the line has moved to the front ("(, column 15)" was).
    assert msg == f"{p}:{line_no}: TOML syntax error: Invalid value (column 15)"


@pytest.mark.parametrize(
    ("old", "new", "field", "fragment"),
    [
        ("roll_load_kg = 3500.0", "roll_load_kgs = 3500.0", "press.roll_load_kgs", "unknown key"),
        ("roll_load_kg = 3500.0", "", "press.roll_load_kg", "required field is missing"),
        ("roll_load_kg = 3500.0", 'roll_load_kg = "3500"', "press.roll_load_kg", "valid number"),
        ("roll_load_kg = 3500.0", "roll_load_kg = true", "press.roll_load_kg", "valid number"),
        ("roll_load_kg = 3500.0", "roll_load_kg = nan", "press.roll_load_kg", "finite number"),
        ("roll_load_kg = 3500.0", "roll_load_kg = inf", "press.roll_load_kg", "finite number"),
        ("roll_load_kg = 3500.0", "roll_load_kg = -inf", "press.roll_load_kg", "finite number"),
        ("roll_load_kg = 3500.0", "roll_load_kg = -3500.0", "press.roll_load_kg", "greater than 0"),
        (
            "foil_thickness_um = 35.0",
            "foil_thickness_um = -35.0",
            "material.foil_thickness_um",
            "greater than 0",
        ),
        (
            "cured_thickness_um = 24.0",
            "cured_thickness_um = 0.0",
            "material.layers[0].cured_thickness_um",
            "greater than 0",
        ),
        ('route = "cast-laminate"', 'route = "cast-laminat"', "recipe.route", "'cast-laminate'"),
        ("width_mm = 500.0", "width_mm = [500.0]", "web.width_mm", "got a list"),
        ("[press]", "[presser]", "presser", "unknown key"),
    ],
)
def test_bad_field_gets_one_clear_message(
    tmp_path: Path, old: str, new: str, field: str, fragment: str
) -> None:
    assert old in BASE
    p = write(tmp_path, BASE.replace(old, new, 1))
    msgs = problems(p)
    hits = [m for m in msgs if m.startswith(f"{p}: {field}: ")]
    assert hits, msgs
    assert fragment in hits[0], hits[0]
    assert "Traceback" not in "\n".join(msgs)


def test_unknown_station_is_a_rule_error_not_a_crash(tmp_path: Path) -> None:
    from linecontrol.process import check

    text = BASE.replace('station = "press"', 'station = "nip"').replace(
        '["unwind", "press", "rewind"]', '["unwind", "nip", "rewind"]'
    )
    report = check(load_recipe(write(tmp_path, text)), load_line(DEFAULT_LINE))
    msgs = [v.message for v in report.errors]
    assert any(
        m.startswith("recipe.stations[1] = nip: must be one of the line's stations") for m in msgs
    )


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    [msg] = problems(tmp_path / "missing.toml")
    assert "cannot read file" in msg
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe\x00garbage")
    [msg] = problems(p)
    assert "not UTF-8" in msg


def test_line_config_errors_name_the_field(tmp_path: Path) -> None:
    text = DEFAULT_LINE.read_text().replace("roll_diameter_mm = 350.0", "roll_diameter_mm = nan")
    msgs = problems(write(tmp_path, text, "line.toml"), load_line)
    assert any("stations[9].roll_diameter_mm: must be a finite number" in m for m in msgs), msgs
    text = DEFAULT_LINE.read_text().replace('kind = "press"', 'kind = "pres"')
    msgs = problems(write(tmp_path, text, "line.toml"), load_line)
    assert any("stations[9]" in m and "'press'" in m for m in msgs), msgs


def test_line_out_of_web_order_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_LINE.read_text().replace("distance_m = 50.0", "distance_m = 5.0")
    [msg] = problems(write(tmp_path, text, "line.toml"), load_line)
    assert "web order" in msg and "press (5.0 m)" in msg


def test_a_recipe_without_foil_must_say_what_it_unwinds(tmp_path: Path) -> None:
    p = write(tmp_path, BASE.replace("foil_thickness_um = 35.0", ""))
    [msg] = problems(p)
    assert msg.startswith(f"{p}: material: ") and "state what the unwind carries" in msg, msg


def test_a_foil_thickness_on_a_film_substrate_is_refused(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        BASE.replace("foil_thickness_um = 35.0", 'foil_thickness_um = 35.0\nsubstrate = "pi_film"'),
    )
    [msg] = problems(p)
    assert "foil_thickness_um is given, but the substrate is 'pi_film'" in msg, msg


def test_an_unknown_unwound_material_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_LINE.read_text().replace(
        'materials = ["metal_foil", "pi_film", "pi_precursor_film"]', 'materials = ["paper"]'
    )
    msgs = problems(write(tmp_path, text, "line.toml"), load_line)
    assert any("stations[0].materials[0]" in m for m in msgs), msgs


def test_an_unwind_without_materials_takes_every_kind(tmp_path: Path) -> None:
    text = DEFAULT_LINE.read_text().replace(
        'materials = ["metal_foil", "pi_film", "pi_precursor_film"]', ""
    )
    line = load_line(write(tmp_path, text, "line.toml"))
    assert line.stations[0].materials == ["metal_foil", "pi_film", "pi_precursor_film"]  # type: ignore[union-attr]


def test_a_repeated_zone_setpoint_names_the_zone_without_pydantic_noise(tmp_path: Path) -> None:
    """B10: was 'ovens[0]: Value error, zone setpoints repeat a zone (got a table)'."""
    ex1 = (RECIPES / "001-ex1.toml").read_text()
    text = ex1.replace('{ zone = "D1-2"', '{ zone = "D1-1"', 1)
    assert text != ex1
    p = write(tmp_path, text)
    [msg] = problems(p)
    assert msg == f"{p}: ovens[0]: zone setpoints repeat zones ['D1-1']", msg


def test_a_config_that_is_a_fifo_or_a_directory_is_refused_without_blocking(
    tmp_path: Path,
) -> None:
    """A FIFO would block the reader for ever (serve and demo hung on one): refused
    before it is opened, naming the file; a directory as before."""
    from linecontrol.config.tomlfile import read_toml

    fifo = tmp_path / "line.toml"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError) as info:
        read_toml(fifo)
    assert str(fifo) in str(info.value) and "not a regular file" in str(info.value)
    with pytest.raises(InputFileError) as info:
        read_toml(tmp_path)
    assert "Is a directory" in str(info.value)


def test_a_config_past_the_size_limit_is_refused(tmp_path: Path) -> None:
    from linecontrol.config.tomlfile import MAX_TOML_BYTES, read_toml

    big = tmp_path / "big.toml"
    with big.open("wb") as f:
        f.truncate(MAX_TOML_BYTES + 1)
    with pytest.raises(InputFileError) as info:
        read_toml(big)
    assert "larger than" in str(info.value)
    ok = tmp_path / "ok.toml"
    ok.write_text('a = 1\n', encoding="utf-8")
    assert read_toml(ok) == {"a": 1}
