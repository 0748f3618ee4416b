"""The replay's seek dialog (``g``): a time from the run's start or a metre of web."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label

from linecontrol.tui.replay import parse_seek
from linecontrol.tui.screens import Dialog


class SeekDialog(Dialog):
    """Enter seeks to ``120`` (s from the run's start) or ``45m``; escape cancels."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Seek to: seconds from the run's start (120) or a metre (45m)")
            yield Input(placeholder="120 or 45m", id="target")
            yield Label("", id="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            self.dismiss(parse_seek(event.value))
        except ValueError as exc:
            self.error(str(exc))
