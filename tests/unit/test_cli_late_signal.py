"""A Ctrl-C that lands after the command's own handlers are gone (a storm of SIGINTs
at the end of `record`): exit 130, never a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from linecontrol import cli, runtime


def test_a_sigint_while_the_command_winds_down_is_exit_130(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @contextlib.contextmanager
    def interrupted_on_exit(*_a: object, **_k: object) -> Iterator[None]:
        yield
        raise KeyboardInterrupt  # the signal arrives as logging is shut down

    monkeypatch.setattr(runtime, "configured", interrupted_on_exit)
    assert cli.main(["regmap", "press"]) == 130
