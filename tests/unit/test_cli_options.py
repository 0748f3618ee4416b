"""The checks ``run``, ``serve`` and ``demo`` share before anything starts
(``linecontrol.cli.options.supervised_line``): each command refuses the same input with
the same words and exit 2, and starts nothing (no simulator, no run directory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from linecontrol.cli import EXIT_BAD_INPUT, main
from linecontrol.config import DEFAULT_LINE

COMMANDS = ["run", "serve", "demo"]
SIM = {"run": ["--sim"], "serve": ["--sim"], "demo": []}  # demo is always simulated


def refused(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> list[str]:
    data = tmp_path / "data"
    rc = main([*argv, "--data-dir", str(data)])
    err = capsys.readouterr().err
    assert rc == EXIT_BAD_INPUT, err
    assert not data.exists(), "something started"
    return err.splitlines()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("speedup", ["0", "-3", "1e-320", "0.0099", "10000.000001"])
def test_a_speedup_out_of_bounds_is_refused_by_each(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, speedup: str
) -> None:
    lines = refused(capsys, tmp_path, command, *SIM[command], "--speedup", speedup)
    assert lines == [
        f"error: --speedup = {float(speedup):g}: must be from 0.01 to 10000"
        " (the line's clock against real time)"
    ]


@pytest.mark.parametrize("command", ["run", "serve"])
def test_a_speedup_without_sim_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    lines = refused(capsys, tmp_path, command, "--speedup", "60")
    assert lines == ["error: --speedup needs --sim: a real line runs in real time"]


@pytest.mark.parametrize("command", ["run", "serve"])
def test_placeholder_addresses_without_sim_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    lines = refused(capsys, tmp_path, command, "--config", str(DEFAULT_LINE))
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f"error: {DEFAULT_LINE}: the config's addresses are the simulator's placeholders ("
    )
    assert lines[0].endswith("): use --sim")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_line_without_instruments_is_refused_by_each(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    text = DEFAULT_LINE.read_text(encoding="utf-8")
    config = tmp_path / "empty.toml"
    config.write_text(text[: text.index("[devices.")], encoding="utf-8")  # no instrument
    lines = refused(capsys, tmp_path, command, *SIM[command], "--config", str(config))
    assert lines[-1] == (
        f"error: line config: {config}: devices: the line has no [devices.NAME] table; "
        f"{command} needs at least one instrument"
    ), lines


def test_a_bad_config_is_refused_by_demo_in_its_own_words(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """demo reads the config itself: the user sees the config's problem, not serve's
    stderr and "serve did not start"."""
    config = tmp_path / "broken.toml"
    config.write_text("[line\n", encoding="utf-8")
    lines = refused(capsys, tmp_path, "demo", "--config", str(config))
    assert lines and all(ln.startswith("error: line config: ") for ln in lines), lines
