"""``linecontrol recipe check``: output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from linecontrol.cli import main
from linecontrol.config import RECIPES

GOOD = str(RECIPES / "001-ex1.toml")
BAD = str(RECIPES / "001-comp1.toml")


def test_good_recipe_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recipe", "check", GOOD]) == 0
    out = capsys.readouterr().out
    assert "verdict   PASS" in out
    assert "linear pressure     50 kg/cm" in out
    assert "ovens allow at most 0.2 m/min" in out


def test_violating_recipe_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recipe", "check", GOOD, BAD]) == 1
    out = capsys.readouterr().out
    assert "✗ [press.temp_vs_tg] press.temperature_c = 280: must be between Tg + 30 = 330" in out
    assert "verdict   FAIL" in out


def test_unreadable_file_exits_2_and_still_checks_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[recipe\nname = 1\n")
    assert main(["recipe", "check", GOOD, str(broken), BAD]) == 2
    out = capsys.readouterr().out
    assert f"{broken}:1: TOML syntax error" in out
    assert out.count("verdict") == 2


def test_bad_line_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = tmp_path / "line.toml"
    line.write_text("[line]\nname = 'x'\n")
    assert main(["recipe", "check", GOOD, "--line", str(line)]) == 2
    assert "line config" in capsys.readouterr().err


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recipe", "check", GOOD, BAD, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [d["ok"] for d in data] == [True, False]
    assert data[0]["derived"]["linear_pressure_kg_cm"] == pytest.approx(50.0)
    assert data[0]["derived"]["max_speed_m_min"] == pytest.approx(0.2)
    [err] = data[1]["errors"]
    assert err["rule"] == "press.temp_vs_tg" and err["value"] == 280.0
    assert err["field"] == "press.temperature_c"


def test_json_parse_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "r.toml"
    p.write_text((RECIPES / "001-ex2.toml").read_text().replace("= 3500.0", "= nan"))
    assert main(["recipe", "check", str(p), "--json"]) == 2
    [entry] = json.loads(capsys.readouterr().out)
    [problem] = entry["problems"]
    assert problem["field"] == "press.roll_load_kg"


def test_installed_command_runs() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "linecontrol",
            "recipe",
            "check",
            *sorted(map(str, RECIPES.glob("0*.toml"))),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1  # the comparative examples and 002-thick-layer fail
    assert proc.stdout.count("verdict   PASS") == 9
    assert proc.stdout.count("verdict   FAIL") == 3
    assert "Traceback" not in proc.stderr


def _strict_loads(text: str) -> Any:
    def refuse(name: str) -> object:
        raise AssertionError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_json_is_strict_when_a_derived_value_overflows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 1e308 kg over 0.001 mm: the linear and areal pressures overflow to infinity.
    p = tmp_path / "r.toml"
    text = (RECIPES / "001-ex2.toml").read_text()
    text = text.replace("roll_load_kg = 3500.0", "roll_load_kg = 1e308")
    text = text.replace("width_mm = 500.0", "width_mm = 0.001")
    p.write_text(text)
    assert main(["recipe", "check", str(p), "--json"]) == 1
    [entry] = _strict_loads(capsys.readouterr().out)
    assert entry["derived"]["linear_pressure_kg_cm"] is None
    assert entry["derived"]["areal_pressure_mpa"] is None
    assert entry["non_finite"]["derived.linear_pressure_kg_cm"] == "inf"
    assert entry["non_finite"]["derived.areal_pressure_mpa"] == "inf"
    assert "press.linear_pressure" in {e["rule"] for e in entry["errors"]}


def test_json_of_finite_reports_has_no_non_finite_note(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recipe", "check", GOOD, "--json"]) == 0
    [entry] = _strict_loads(capsys.readouterr().out)
    assert "non_finite" not in entry
