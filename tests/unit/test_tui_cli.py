"""``linecontrol tui``'s arguments: a bad address, a token on the socket, a bad client id
or no socket is a clear error (exit 2) before any terminal is taken over."""

from __future__ import annotations

from pathlib import Path

import pytest

from linecontrol.cli.entry import main
from linecontrol.cli.parser import build_parser


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--connect", "http://10.0.0.1:5"], "loopback"),
        (["--connect", "https://127.0.0.1:5"], "only http://"),
        (["--connect", "http://127.0.0.1"], "port is required"),
        (["--connect", "SOCK", "--token", "abc"], "--token is for an http:// address"),
        (["--connect", "SOCK", "--client-id", "has space"], "--client-id"),
        (["--connect", "SOCK", "--client-id", "x" * 65], "--client-id"),
        (["--connect", "SOCK"], "no API socket at"),
    ],
)
def test_bad_arguments_are_refused(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(tmp_path / "none.sock") if a == "SOCK" else a for a in argv]
    assert main(["tui", *argv]) == 2
    assert message in capsys.readouterr().err


def test_the_default_socket_is_under_the_data_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tui", "--data-dir", str(tmp_path)]) == 2
    assert str(tmp_path / "linecontrol.sock") in capsys.readouterr().err


def test_tui_is_a_command() -> None:
    args = build_parser().parse_args(["tui", "--connect", "http://127.0.0.1:8080", "--token", "t"])
    assert (args.command, args.connect, args.token) == ("tui", "http://127.0.0.1:8080", "t")
