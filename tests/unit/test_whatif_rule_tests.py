"""``linecontrol whatif --test FILE``: the shipped alarm-rule tests of the default line
pass; a failing case fails with its diff (exit 1); a bad file is named with its field and
value (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from linecontrol.cli.entry import main
from linecontrol.config import CONFIGS

SHIPPED = Path(str(CONFIGS)) / "alarm-tests" / "line.sim.toml"


def test_the_shipped_alarm_tests_of_the_default_line_pass(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["whatif", "--test", str(SHIPPED)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out and "10 of 10 tests passed" in out


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "t.toml"
    line = (Path(str(CONFIGS)) / "line.sim.toml").resolve()
    p.write_text(f'line = "{line}"\n' + body)
    return p


def test_a_failing_case_fails_with_its_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = write(
        tmp_path,
        """
[[tests]]
name = "forgets the on-delay"
limits = { "o2_cure.o2_ppm" = 50.0 }
series = { "o2_cure.o2_ppm" = "30 60x4" }
expect = [{ at = 1.0, alarms = { o2_cure_high = "UNACK" } },
          { at = 3.0, alarms = { o2_cure_high = "UNACK" } }]

[[tests]]
name = "right"
limits = { "o2_cure.o2_ppm" = 50.0 }
series = { "o2_cure.o2_ppm" = "30 60x4" }
expect = [{ at = 3.0, alarms = { o2_cure_high = "UNACK" } }]
""",
    )
    code = main(["whatif", "--test", str(p)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  forgets the on-delay" in out and "PASS  right" in out
    assert "at 1 s: o2_cure_high: expected UNACK, got NORM" in out
    assert "at 3 s" not in out  # the expectation that holds is no diff
    assert "1 of 2 tests passed" in out


@pytest.mark.parametrize(
    ("body", "field", "value"),
    [
        ('[[tests]]\nname = "x"\nseries = { "o2_cure.o2_ppm" = "1 2x" }\n'
         'expect = [{ at = 0.0, alarms = { o2_cure_high = "NORM" } }]\n',
         "tests[0].series.o2_cure.o2_ppm", "2x"),
        ('[[tests]]\nname = "x"\nseries = { "o2_cure.o2_ppm" = "1" }\n'
         'expect = [{ at = 0.0, alarms = { o2_cure_high = "NORMAL" } }]\n',
         "tests[0].expect[0].alarms.o2_cure_high", "NORMAL"),
        ('[[tests]]\nname = "x"\nseries = { "o2_cure.o2_ppm" = "1" }\n'
         'expect = [{ at = 0.0, alarms = { no_such = "NORM" } }]\n',
         "tests[0].expect[0].alarms.no_such", "no_such"),
    ],
)  # fmt: skip
def test_a_bad_test_file_is_named_with_its_field_and_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, field: str, value: str
) -> None:
    p = write(tmp_path, body)
    code = main(["whatif", "--test", str(p)])
    err = capsys.readouterr().err
    assert code == 2
    assert str(p) in err and field in err and value in err, err
