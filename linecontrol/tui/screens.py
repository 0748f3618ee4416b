"""The TUI's screens (Textual): Overview, Alarms, Station detail, Recipes, Run, and the
dialogs for a shelve and a setpoint. Each screen carries the line header and paints from
the app's ``LineView`` when the app's timer says so (``paint``), never per message."""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, cast

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Label, Sparkline, Static

from linecontrol.api import LineView
from linecontrol.tui import present
from linecontrol.tui.present import BAND_LEGEND
from linecontrol.tui.widgets import (
    CellTable,
    CommandBar,
    LineHeader,
    MessageLine,
    Quiet,
    shown_text,
)


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


MIN_SIZE = (80, 24)
"""Below this the screens do not fit: a notice says so instead (q still quits)."""


def too_small(width: int, height: int) -> str:
    """The notice for a terminal below ``MIN_SIZE``, or an empty string."""
    need_w, need_h = MIN_SIZE
    if width >= need_w and height >= need_h:
        return ""
    return f"terminal too small: need {need_w}x{need_h}, have {width}x{height}\n(q quits)"


class LineScreen(Screen[None]):
    """A screen with the line header on top, then its body, the last verdict and the
    footer below (the verdict above the footer, never under it); below ``MIN_SIZE`` a
    notice instead of all of them."""

    TITLE: ClassVar[str] = ""
    DEFAULT_CSS = """
    LineScreen > #body { height: 1fr; }
    LineScreen > #too-small { display: none; }
    LineScreen.small > * { display: none; }
    LineScreen.small > #too-small { display: block; height: 1fr; }
    """

    @property
    def host(self) -> Host:
        return cast(Host, self.app)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A key that acts on the line is shown disabled, and runs nothing, while the app
        says it may not act (connection not live, a viewer, control elsewhere)."""
        return True if self.host.may_act(action, parameters) else None

    def compose(self) -> ComposeResult:
        yield LineHeader(id="line-header")
        yield Static(id="too-small")
        with Vertical(id="body"):
            yield from self.body()
        yield MessageLine(id="message")
        yield Footer(compact=True, show_command_palette=False)

    def body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.fit_to(self.app.size.width, self.app.size.height)

    def on_resize(self, event: events.Resize) -> None:
        self.fit_to(event.size.width, event.size.height)
        with contextlib.suppress(NoMatches):  # the header is cut to the new width
            self.paint()

    def fit_to(self, width: int, height: int) -> None:
        notice = too_small(width, height)
        self.query_one("#too-small", Static).update(Text(notice, style="bold"))
        self.set_class(bool(notice), "small")

    def on_screen_resume(self) -> None:
        self.fit_to(self.app.size.width, self.app.size.height)
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

    DEFAULT_CSS = """
    OverviewScreen #summary { max-height: 3; text-wrap: nowrap; }
    OverviewScreen #stations { height: 1fr; }
    OverviewScreen #row-detail { height: auto; max-height: 2; }
    """

    def body(self) -> ComposeResult:
        yield Quiet(id="summary")
        yield CommandBar(id="commands")
        yield CellTable(present.ROW_COLUMNS, id="stations")
        yield Quiet(id="row-detail")

    def paint_body(self) -> None:
        view, now = self.host.view, self.host.now()
        width = self.size.width or 80
        self.query_one("#summary", Quiet).show(present.line_summary(view, now, width))
        self.query_one(CommandBar).paint(view, now)
        self.query_one(CellTable).sync(present.station_rows(view, now))
        self.paint_selected()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.paint_selected()

    def paint_selected(self) -> None:
        """The selected station's key values in full below the table (also when the
        cursor moves)."""
        key = self.query_one(CellTable).selected_key()
        self.query_one("#row-detail", Quiet).show(
            present.row_detail(self.host.view, key, self.host.now()) if key is not None else ""
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_detail()

    def action_detail(self) -> None:
        """The selected row's station (or device on no station) with every channel."""
        key = self.query_one(CellTable).selected_key()
        if key is not None:
            self.app.push_screen(StationScreen(key))


ALARMS_TITLE = "Active alarms (unacknowledged first; since: line time, UTC)"
ALARM_KEYS = "keys: k ack  K ack all unacked  R reset (latched: ack first)  v shelve"


class AlarmsScreen(LineScreen):
    TITLE = "Alarms"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "acknowledge", "Ack"),
        Binding("v", "shelve", "Shelve"),
        # shown in the screen's key line: the footer has no room left at 80 columns
        Binding("R", "reset_alarm", "Reset alarm", show=False),
        Binding("K", "acknowledge_all", "Ack all", show=False),
    ]

    # the table scrolls in the room left (the cursor's row always on screen); the
    # selected alarm in full and the recent events keep their lines at 80x24
    DEFAULT_CSS = """
    AlarmsScreen #alarms { height: 1fr; }
    AlarmsScreen #alarm-detail { height: 2; }
    AlarmsScreen #events { height: 5; text-wrap: nowrap; text-overflow: ellipsis; }
    """
    EVENTS_SHOWN = 4

    def body(self) -> ComposeResult:
        yield Quiet(ALARMS_TITLE, id="alarms-title")
        yield Quiet(ALARM_KEYS, id="alarm-keys")
        yield CellTable(present.ALARM_COLUMNS, id="alarms")
        yield Quiet(id="alarm-detail")
        yield Quiet(id="events")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.paint_selected()

    def paint_selected(self) -> None:
        key = self.query_one(CellTable).selected_key()
        self.query_one("#alarm-detail", Quiet).show(
            present.alarm_detail(self.host.view, key, self.host.now()) if key else "no alarm"
        )

    def paint_body(self) -> None:
        view = self.host.view
        self.query_one(CellTable).sync(present.alarm_rows(view, self.host.now()))
        self.paint_selected()
        hidden = view.suppressed_alarms()
        self.query_one("#alarms-title", Quiet).show(
            ALARMS_TITLE + (f"; {hidden} suppressed by design (not listed)" if hidden else "")
        )
        recent = present.operator_events(view)[-self.EVENTS_SHOWN :]
        self.query_one("#events", Quiet).show(
            "\n".join([present.EVENTS_TITLE, *(present.event_line(e) for e in recent)])
            if recent
            else "no events yet"
        )

    def action_acknowledge(self) -> None:
        alarm = self.query_one(CellTable).selected_key()
        if alarm is None:
            self.say("no alarm selected")
            return
        self.host.send("acknowledge_alarm", alarm=alarm)

    def action_acknowledge_all(self) -> None:
        """Acknowledge every unacknowledged alarm, once confirmed: one acknowledge_alarm
        each."""
        names = present.unacknowledged_alarms(self.host.view)
        if not names:
            self.say("no unacknowledged alarm")
            return

        def done(yes: bool | None) -> None:
            if yes:
                for name in names:
                    self.host.send("acknowledge_alarm", alarm=name)

        self.app.push_screen(
            ConfirmDialog(f"Acknowledge all {len(names)} unacknowledged alarms?"), done
        )

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
    """One station's channels (value, quality, setpoint and band), the selected row's
    band in full, and its trend with its scale (min, max, unit, time span)."""

    TITLE = "Station"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("e", "setpoint", "Set"),
    ]
    COLUMNS = ("channel", "value", "quality", "setpoint [band]", "unit")
    DEFAULT_CSS = """
    StationScreen #channels { height: 2fr; }
    StationScreen #detail { height: 2; }
    StationScreen #trend { height: 1fr; min-height: 2; }
    """
    TREND_SHOWN = 240
    """The newest points of the trend shown (a minute at the stream's 4 a second)."""

    def __init__(self, station: str) -> None:
        super().__init__()
        self.station = station

    def body(self) -> ComposeResult:
        yield Quiet(f"Station {present.fit(self.station, 40)}", id="station-title")
        yield CellTable(self.COLUMNS, id="channels")
        yield Quiet(id="detail")
        yield Quiet(BAND_LEGEND, id="legend")
        yield Quiet(id="trend-scale")
        yield Sparkline([], id="trend")

    def rows(self) -> list[tuple[str, tuple[present.Cell, ...]]]:
        view = self.host.view
        out: list[tuple[str, tuple[present.Cell, ...]]] = []
        for channel, info in present.group_channels(view, self.station):
            sample = present.shown_sample(view, channel, self.host.now())
            unit = present.text(info.get("unit"), "")
            out.append(
                (
                    channel,
                    (
                        present.Cell(channel + (" ✎" if info.get("writable") else "")),
                        present.value_cell(sample, unit, channel),
                        present.Cell(sample.quality, present.QUALITY_STYLE.get(sample.quality, "")),
                        present.Cell(present.band_text(view, channel)),
                        present.Cell(unit),
                    ),
                )
            )
        return out

    def paint_body(self) -> None:
        rows = self.rows()
        title = f"Station {present.fit(self.station, 40)}"
        self.query_one("#station-title", Quiet).show(
            title if rows else f"{title}: no channels (nothing here to show or set)"
        )
        self.query_one(CellTable).sync(rows)
        self.paint_selected()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.paint_selected()

    def paint_selected(self) -> None:
        """The selected row's band in full and its trend (also when the cursor moves)."""
        key = self.query_one(CellTable).selected_key()
        view = self.host.view
        self.query_one("#detail", Quiet).show(
            present.band_detail(view, key) if key is not None else ""
        )
        points = list(self.host.history.get(key or "", ()))[-self.TREND_SHOWN :]
        self.query_one("#trend-scale", Quiet).show(
            present.trend_scale(view, key, points, self.host.now()) if key is not None else ""
        )
        self.query_one(Sparkline).data = present.trend_shape([v for _, v in points])

    def action_setpoint(self) -> None:
        key = self.query_one(CellTable).selected_key()
        view = self.host.view
        band = present.band_of(view, key) if key else None
        if band is None or not isinstance(band.get("field"), str):
            self.say(f"{key or 'nothing'}: no setpoint with a band here", "bold red")
            return
        field = band["field"]

        def done(value: float | None) -> None:
            if value is not None:
                self.host.send("change_setpoint", field=field, value=value)

        self.app.push_screen(SetpointDialog(field, present.band_text(view, key or "")), done)


class RecipesScreen(LineScreen):
    """The recipes on disk with their rule check; the selected one's violations (or
    derived values) in full below the table, which cuts them at 80 columns."""

    TITLE = "Recipes"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "load", "Load"),
        Binding("g", "refresh", "Refresh"),
    ]
    COLUMNS = ("name", "check", "violations / derived", "path")
    DEFAULT_CSS = """
    RecipesScreen #recipes { height: 1fr; }
    RecipesScreen #recipe-detail { height: auto; max-height: 8; }
    """

    def body(self) -> ComposeResult:
        yield CellTable(self.COLUMNS, id="recipes")
        yield Quiet(id="recipe-detail")

    def on_mount(self) -> None:
        self.host.load_recipes()

    def recipes(self) -> list[dict[str, Any]]:
        return [r for r in self.host.recipes if isinstance(r, dict)]

    def paint_body(self) -> None:
        rows: list[tuple[str, tuple[present.Cell, ...]]] = []
        loaded = present.text(self.host.view.supervisor.get("recipe"), "")
        for r in self.recipes():
            ok = r.get("ok") is True
            mark = " (loaded)" if present.is_loaded(r, loaded) else ""
            rows.append(
                (
                    present.text(r.get("path")),
                    (
                        present.Cell(present.text(r.get("name"))),
                        present.Cell(("ok" if ok else "VIOLATES") + mark, "" if ok else "bold red"),
                        present.Cell(present.recipe_detail(r)),
                        present.Cell(present.text(r.get("path"))),
                    ),
                )
            )
        self.query_one(CellTable).sync(rows)
        self.paint_selected()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.paint_selected()

    def paint_selected(self) -> None:
        key = self.query_one(CellTable).selected_key()
        chosen = next((r for r in self.recipes() if present.text(r.get("path")) == key), None)
        self.query_one("#recipe-detail", Quiet).show(
            f"{present.text(chosen.get('name'))}: {present.recipe_detail(chosen) or 'ok'}"
            if chosen is not None
            else "no recipes (g refreshes)"
        )

    def action_refresh(self) -> None:
        self.host.load_recipes()

    def action_load(self) -> None:
        path = self.query_one(CellTable).selected_key()
        if path is None:
            self.say("no recipe selected")
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.host.send("load_recipe", path=path)

        self.app.push_screen(ConfirmDialog(f"Load the recipe {present.fit(path, 40)}?"), done)


class RunScreen(LineScreen):
    TITLE = "Run"
    DEFAULT_CSS = """
    RunScreen #run-events { text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def body(self) -> ComposeResult:
        yield Quiet(id="run")
        yield Quiet(id="run-events")

    def paint_body(self) -> None:
        view = self.host.view
        self.query_one("#run", Quiet).show(
            "\n".join([*present.run_lines(view), *present.waits_lines(view)])
        )
        recent = present.operator_events(view)[-10:]
        self.query_one("#run-events", Quiet).show(
            "\n".join([present.EVENTS_TITLE, *(present.event_line(e) for e in recent)])
            if recent
            else "no events yet"
        )


# ---------------------------------------------------------------------- dialogs
class Dialog(ModalScreen[Any]):
    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > Vertical { width: 60; height: auto; border: thick $accent; background: $surface; }
    Dialog Label { width: 100%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)

    def error(self, text: str) -> None:
        self.query_one("#error", Label).update(Text(text, style="bold red"))


class ConfirmDialog(Dialog):
    """A question: y (or enter) confirms, n or escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "cancel", "No"),
        Binding("y,enter", "confirm", "Yes"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(shown_text(f"{self.question} (y: yes, n or escape: no)"))

    def action_confirm(self) -> None:
        self.dismiss(True)


class ShelveDialog(Dialog):
    """A reason (required) and minutes; enter in the last field shelves."""

    def __init__(self, alarm: str) -> None:
        super().__init__()
        self.alarm = alarm

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                shown_text(f"Shelve {self.alarm}: reason, then minutes (enter; escape cancels)")
            )
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
            # Text: the band's "[no band]" (and a server's names) are no markup
            yield Label(shown_text(f"{self.field}: now {self.band} (enter sets; escape cancels)"))
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
