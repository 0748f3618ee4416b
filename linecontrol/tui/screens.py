"""The TUI's screens (Textual): Overview, Alarms, Station detail, Recipes, Run, and the
dialogs for a shelve and a setpoint. Each screen carries the line header and paints from
the app's ``LineView`` when the app's timer says so (``paint``), never per message."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Label, Sparkline, Static

from linecontrol.api import LineView
from linecontrol.tui import present
from linecontrol.tui.widgets import CellTable, CommandBar, LineHeader, MessageLine, Quiet


class Host(Protocol):
    """What the screens need of the app (linecontrol.tui.app.LineApp)."""

    view: LineView
    history: dict[str, deque[tuple[float, float]]]
    recipes: list[dict[str, Any]]
    last_message: str

    def now(self) -> float: ...

    def wall(self) -> float: ...

    def send(self, command: str, **fields: Any) -> None: ...

    def load_recipes(self) -> None: ...

    def may_act(self, action: str, parameters: tuple[object, ...] = ()) -> bool: ...


class LineScreen(Screen[None]):
    """A screen with the line header on top, the last verdict and the footer below."""

    TITLE: ClassVar[str] = ""

    @property
    def host(self) -> Host:
        return cast(Host, self.app)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A key that acts on the line is shown disabled, and runs nothing, while the app
        says it may not act (connection not live, a viewer, control elsewhere)."""
        return True if self.host.may_act(action, parameters) else None

    def compose(self) -> ComposeResult:
        yield LineHeader(id="line-header")
        yield from self.body()
        yield MessageLine(id="message")
        yield Footer(compact=True, show_command_palette=False)

    def body(self) -> ComposeResult:
        yield from ()

    def on_screen_resume(self) -> None:
        self.paint()
        self.say(self.host.last_message)

    def paint(self) -> None:
        """Repaint from the view (the app's timer calls this for the active screen)."""
        host = self.host
        self.query_one(LineHeader).paint(host.view, host.now())
        self.paint_body()

    def paint_body(self) -> None:
        pass

    def say(self, text: str, style: str = "") -> None:
        self.query_one(MessageLine).say(text, style)


class OverviewScreen(LineScreen):
    TITLE = "Overview"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "detail", "Detail", show=False),
    ]

    def body(self) -> ComposeResult:
        yield Quiet(id="summary")
        yield CommandBar(id="commands")
        yield CellTable(present.ROW_COLUMNS, id="stations")

    def paint_body(self) -> None:
        view, now = self.host.view, self.host.now()
        self.query_one("#summary", Quiet).show(present.line_summary(view))
        self.query_one(CommandBar).paint(view, now)
        self.query_one(CellTable).sync(present.station_rows(view, now))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_detail()

    def action_detail(self) -> None:
        key = self.query_one(CellTable).selected_key()
        if key is None:
            return
        line = self.host.view.state.get("line", {}) if self.host.view.state else {}
        chans = line.get("channels", {}) if isinstance(line, dict) else {}
        info = chans.get(key) if isinstance(chans, dict) else None
        station = info.get("station") if isinstance(info, dict) else key.rstrip(":")
        if isinstance(station, str):
            self.app.push_screen(StationScreen(station))


ALARM_KEYS = "keys: k acknowledge  R reset (a latched alarm: acknowledge first)  v shelve"


class AlarmsScreen(LineScreen):
    TITLE = "Alarms"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "acknowledge", "Ack"),
        Binding("v", "shelve", "Shelve"),
        # shown in the screen's key line: the footer has no room left at 80 columns
        Binding("R", "reset_alarm", "Reset alarm", show=False),
    ]

    def body(self) -> ComposeResult:
        yield Quiet("Active alarms (unacknowledged first)", id="alarms-title")
        yield Quiet(ALARM_KEYS, id="alarm-keys")
        yield CellTable(present.ALARM_COLUMNS, id="alarms")
        yield Quiet(id="events")

    def paint_body(self) -> None:
        view = self.host.view
        self.query_one(CellTable).sync(present.alarm_rows(view))
        hidden = view.suppressed_alarms()
        self.query_one("#alarms-title", Quiet).show(
            "Active alarms (unacknowledged first)"
            + (f"; {hidden} suppressed by design (not listed)" if hidden else "")
        )
        recent = list(view.events)[-5:]
        self.query_one("#events", Quiet).show(
            "\n".join(present.event_line(e) for e in recent) or "no events yet"
        )

    def action_acknowledge(self) -> None:
        alarm = self.query_one(CellTable).selected_key()
        if alarm is None:
            self.say("no alarm selected")
            return
        self.host.send("acknowledge_alarm", alarm=alarm)

    def action_reset_alarm(self) -> None:
        """Reset the selected alarm (a latched one stays until acknowledged, then reset;
        the server says why when it refuses)."""
        alarm = self.query_one(CellTable).selected_key()
        if alarm is None:
            self.say("no alarm selected")
            return
        self.host.send("reset_alarm", alarm=alarm)

    def action_shelve(self) -> None:
        alarm = self.query_one(CellTable).selected_key()
        if alarm is None:
            self.say("no alarm selected")
            return

        def done(result: tuple[str, float] | None) -> None:
            if result is not None:
                reason, minutes = result
                self.host.send(
                    "shelve_alarm", alarm=alarm, reason=reason, duration_s=minutes * 60.0
                )

        self.app.push_screen(ShelveDialog(alarm), done)


class StationScreen(LineScreen):
    TITLE = "Station"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("e", "setpoint", "Set"),
    ]
    COLUMNS = ("channel", "value", "quality", "setpoint [band]", "unit")

    def __init__(self, station: str) -> None:
        super().__init__()
        self.station = station

    def body(self) -> ComposeResult:
        yield Static(f"Station {self.station}", id="station-title")
        yield CellTable(self.COLUMNS, id="channels")
        yield Label("trend (last minutes) of the selected channel:")
        yield Sparkline([], id="trend")

    def rows(self) -> list[tuple[str, tuple[present.Cell, ...]]]:
        view = self.host.view
        out: list[tuple[str, tuple[present.Cell, ...]]] = []
        for channel, info in present.channels_of(view, self.station):
            sample = present.shown_sample(view, channel, self.host.now())
            unit = str(info.get("unit") or "")
            out.append(
                (
                    channel,
                    (
                        present.Cell(channel),
                        present.value_cell(sample, unit),
                        present.Cell(sample.quality, present.QUALITY_STYLE.get(sample.quality, "")),
                        present.Cell(present.band_text(view, channel)),
                        present.Cell(unit),
                    ),
                )
            )
        return out

    def paint_body(self) -> None:
        table = self.query_one(CellTable)
        table.sync(self.rows())
        key = table.selected_key()
        points = [v for _, v in self.host.history.get(key or "", ())]
        self.query_one(Sparkline).data = points[-240:]

    def action_setpoint(self) -> None:
        key = self.query_one(CellTable).selected_key()
        view = self.host.view
        bands = view.state.get("bands", {}) if view.state else {}
        band = bands.get(key) if isinstance(bands, dict) and key else None
        if not isinstance(band, dict) or not isinstance(band.get("field"), str):
            self.say(f"{key or 'nothing'}: no setpoint with a band here", "bold red")
            return
        field = band["field"]

        def done(value: float | None) -> None:
            if value is not None:
                self.host.send("change_setpoint", field=field, value=value)

        self.app.push_screen(SetpointDialog(field, present.band_text(view, key or "")), done)


class RecipesScreen(LineScreen):
    TITLE = "Recipes"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "load", "Load"),
        Binding("g", "refresh", "Refresh"),
    ]
    COLUMNS = ("name", "check", "violations / derived", "path")

    def body(self) -> ComposeResult:
        yield CellTable(self.COLUMNS, id="recipes")

    def on_mount(self) -> None:
        self.host.load_recipes()

    def paint_body(self) -> None:
        rows: list[tuple[str, tuple[present.Cell, ...]]] = []
        for r in self.host.recipes:
            ok = r.get("ok") is True
            violations = r.get("violations") or []
            derived = r.get("derived") or {}
            detail = (
                "; ".join(str(v) for v in violations)
                if violations
                else ", ".join(f"{k}={v}" for k, v in derived.items())
            )
            rows.append(
                (
                    str(r.get("path", "")),
                    (
                        present.Cell(str(r.get("name", ""))),
                        present.Cell("ok" if ok else "VIOLATES", "" if ok else "bold red"),
                        present.Cell(detail),
                        present.Cell(str(r.get("path", ""))),
                    ),
                )
            )
        self.query_one(CellTable).sync(rows)

    def action_refresh(self) -> None:
        self.host.load_recipes()

    def action_load(self) -> None:
        path = self.query_one(CellTable).selected_key()
        if path is None:
            self.say("no recipe selected")
            return
        self.host.send("load_recipe", path=path)


class RunScreen(LineScreen):
    TITLE = "Run"

    def body(self) -> ComposeResult:
        yield Quiet(id="run")
        yield Quiet(id="run-events")

    def paint_body(self) -> None:
        view = self.host.view
        self.query_one("#run", Quiet).show("\n".join(present.run_lines(view, self.host.wall())))
        recent = list(view.events)[-10:]
        self.query_one("#run-events", Quiet).show("\n".join(present.event_line(e) for e in recent))


# ---------------------------------------------------------------------- dialogs
class Dialog(ModalScreen[Any]):
    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > Vertical { width: 60; height: auto; border: thick $accent; background: $surface; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)

    def error(self, text: str) -> None:
        self.query_one("#error", Label).update(Text(text, style="bold red"))


class ShelveDialog(Dialog):
    """A reason (required) and minutes; enter in the last field shelves."""

    def __init__(self, alarm: str) -> None:
        super().__init__()
        self.alarm = alarm

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Shelve {self.alarm}: reason, then minutes (enter; escape cancels)")
            yield Input(placeholder="reason (required)", id="reason")
            yield Input(value="60", placeholder="minutes", id="minutes")
            yield Label("", id="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "reason":
            self.query_one("#minutes", Input).focus()
            return
        reason = self.query_one("#reason", Input).value.strip()
        minutes = parse_number(self.query_one("#minutes", Input).value)
        if not reason:
            self.error("a reason is required")
        elif minutes is None or minutes <= 0 or not math.isfinite(minutes * 60.0):
            self.error("minutes: a finite number above 0")
        else:
            self.dismiss((reason, minutes))


class SetpointDialog(Dialog):
    def __init__(self, field: str, band: str) -> None:
        super().__init__()
        self.field = field
        self.band = band

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.field}: now {self.band} (enter sets; escape cancels)")
            yield Input(placeholder="new value", id="value")
            yield Label("", id="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = parse_number(event.value)
        if value is None:
            self.error("a finite number")
        else:
            self.dismiss(value)


def parse_number(text: str) -> float | None:
    """A finite number, or None (NaN and infinities refused, never clamped)."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


SCREENS: dict[str, Callable[[], LineScreen]] = {
    "overview": OverviewScreen,
    "alarms": AlarmsScreen,
    "recipes": RecipesScreen,
    "run": RunScreen,
}
