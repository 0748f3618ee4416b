"""The operator's terminal (Textual): a client of the local API and nothing else.

One worker reads the stream into a ``LineView`` (``ApiClient.follow``); a timer
(``REPAINT_S``, 4 Hz) repaints the top line screen from it (under a dialog too), and only
when the view, the connection or the commands enabled changed, so a fast line with many
channels costs a repaint a quarter second, not one per message. Commands go out as
their own workers and their verdicts come back to the message line (a refusal with its
reason, also as a notification). Every action has a key, shown in the footer or, for
the nine PackML commands and the control keys, in the overview's command bar; a command
the supervisor does not allow now (or that this client may not send: not live, a
viewer, control held elsewhere) is disabled.

Every key that acts on the line (``LINE_ACTIONS``: the PackML commands, take and release
control, acknowledge, reset alarm, shelve, setpoint, recipe load) is disabled, in the app's
and the screens' ``check_action``, while the connection is not live or the caller is a
viewer, and, but for take control, while another client (or nobody) holds control; such a
key pressed says why on the message line. ``send`` refuses too ("not sent: connection
lost"), the last guard for a dialog confirmed after the connection went. Navigation and
quitting always work; ``ctrl+c`` quits as ``q`` does. When control passes from this client
to another, the message line and a notification say "control taken by WHO".
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from textual import events
from textual.actions import parse as parse_action
from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches

from linecontrol.api import ApiClient, ApiUnreachable, LineView
from linecontrol.errors import InvalidArgument
from linecontrol.tui import present
from linecontrol.tui import replay as rp
from linecontrol.tui.replay_dialog import SeekDialog
from linecontrol.tui.screens import (
    SCREENS,
    ConfirmDialog,
    LineScreen,
    OverviewScreen,
    StationScreen,
)

REPAINT_S = 0.25
TREND_POINTS = 1200
"""Per channel: 5 minutes at the stream's 4 value messages a second."""

CONTROL_ACTIONS = frozenset(
    {
        "packml",
        "release_control",
        "acknowledge",
        "acknowledge_all",
        "reset_alarm",
        "shelve",
        "setpoint",
        "load",
    }
)
"""The key actions (app's and screens') that send a command only the control holder may
send (docs/api.md: every command but take_control)."""

LINE_ACTIONS = CONTROL_ACTIONS | {"take_control"}

ENGINEER_ACTIONS = frozenset({"shelve", "load"})
"""The key actions whose command needs the engineer role (docs/api.md: shelve_alarm,
load_recipe): disabled for an operator, as the server would refuse them."""
"""Every key action that sends a command to the line."""

REPLAY_ACTIONS = frozenset(
    {"replay_pause", "replay_speed", "replay_seek", "replay_step", "replay_goto"}
)
"""The replay keys' actions: enabled only while the server is a replay."""


class LineApp(App[None]):
    TITLE = "linecontrol"
    ENABLE_COMMAND_PALETTE = False  # every action has its own key; the footer needs the room
    SCREENS: ClassVar[dict[str, Callable[[], Any]]] = dict(SCREENS)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show('overview')", "Overview"),
        Binding("2", "show('alarms')", "Alarms"),
        Binding("3", "station", "Station"),
        Binding("4", "show('recipes')", "Recipes"),
        Binding("5", "show('run')", "Run"),
        Binding("t", "take_control", "Control"),
        Binding("T", "take_control(True)", "Force take", show=False),
        Binding("ctrl+r", "release_control", "Release", show=False),
        Binding("q", "quit", "Quit"),
        # Textual's own ctrl+c only says how to quit; a priority binding here replaces it
        # (and the screens' ctrl+c copy, which would take the key first)
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        *(
            Binding(key, f"packml('{name}')", label, show=False)
            for name, key, label in present.PACKML_KEYS
        ),
        # a replay's keys (hidden and off with a live server; not priority: a dialog's
        # input takes its keys first, and on the Recipes screen g is its own refresh)
        Binding("space", "replay_pause", "Pause/resume"),
        Binding("plus", "replay_speed(True)", "Faster", show=False),
        Binding("minus", "replay_speed(False)", "Slower", show=False),
        Binding("left_square_bracket", "replay_seek(-1)", "Back", show=False),
        Binding("right_square_bracket", "replay_seek(1)", "Forward", show=False),
        Binding("n", "replay_step", "Step", show=False),
        Binding("g", "replay_goto", "Seek"),
    ]

    def __init__(
        self,
        client: ApiClient,
        *,
        now: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        repaint_s: float = REPAINT_S,
    ) -> None:
        super().__init__()
        self.client = client
        self.view = LineView()
        self._now = now
        self._wall = wall
        self.repaint_s = repaint_s
        self.history: dict[str, deque[tuple[float, float]]] = {}
        self.recipes: list[dict[str, Any]] = []
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.last_message = ""
        self.repaints = 0
        self._painted: tuple[int, str, frozenset[str]] | None = None
        self._gates: tuple[str, frozenset[str], str | None, str] | None = None
        self._holder: str | None = None
        self._run_id: str | None = None
        self._trend_state: object = None  # the full state whose replay trend is in history

    def now(self) -> float:
        return self._now()

    def wall(self) -> float:
        return self._wall()

    # ---------------------------------------------------------------- running
    async def on_mount(self) -> None:
        self.run_worker(self.client.follow(self.view), name="stream", group="stream")
        self.set_interval(self.repaint_s, self.repaint)
        await self.push_screen("overview")
        self.repaint(force=True)

    async def on_unmount(self) -> None:
        await self.client.close()

    def repaint(self, force: bool = False) -> None:
        """The timer's tick: record trends, repaint the active screen if anything shown
        may have changed (the view, the connection, the commands enabled)."""
        now = self.now()
        connection = self.view.connection(now)
        enabled = present.enabled_commands(self.view, now)
        self._watch_session()
        self._watch_control()
        gates = (connection, enabled, present.holder(self.view), present.role(self.view))
        if gates != self._gates:  # what may_act answers may have changed
            self._gates = gates
            self.refresh_bindings()
        key = (self.view.changed, connection, enabled)
        if key == self._painted and not force:
            return
        self._painted = key
        self._record_trends()
        screen = self.line_screen()
        if screen is not None:
            try:
                screen.paint()
            except NoMatches:  # the screen is still composing: the next tick paints it
                self._painted = None
                return
            self.repaints += 1

    def _record_trends(self) -> None:
        if rp.source(self.view) is not None and self.view.state is not self._trend_state:
            # a replay's fresh full state (a seek): the trends are its window's
            self._trend_state = self.view.state
            self.history = {
                c: deque(points, maxlen=TREND_POINTS)
                for c, points in rp.trend_points(self.view).items()
            }
        for channel, sample in self.view.values.items():
            if not sample.good or sample.value is None or sample.t_wall is None:
                continue
            points = self.history.get(channel)
            if points is None:
                points = self.history[channel] = deque(maxlen=TREND_POINTS)
            if not points or points[-1][0] != sample.t_wall:
                points.append((sample.t_wall, sample.value))

    def _watch_session(self) -> None:
        """A reconnect to a new server session (the full state's run id changed): the
        old verdicts are void and control ended with the old session; say so."""
        run = self.view.state.get("run") if self.view.state else None
        run_id = run.get("id") if isinstance(run, dict) else None
        if not isinstance(run_id, str):
            return
        if self._run_id is not None and run_id != self._run_id:
            self._holder = present.holder(self.view)  # no "control taken" for this
            self.say(
                f"new session {present.fit(run_id, 40)}: control ended; take it again (t)",
                "bold yellow",
            )
        self._run_id = run_id

    def _watch_control(self) -> None:
        """Say so when control passes from this client to another."""
        holder, me = present.holder(self.view), present.me(self.view)
        if self._holder is not None and self._holder == me and holder not in (None, me):
            text = f"control taken by {holder}"
            self.say(text, "bold red")
            self.notify(text, severity="warning", timeout=8)
        self._holder = holder

    # ---------------------------------------------------------------- actions
    def act_block(self, action: str, parameters: tuple[object, ...] = ()) -> str:
        """Why the key action ``action`` may not send its command now, or an empty string
        (always empty for an action that sends nothing: navigation, quit, refresh)."""
        if action not in LINE_ACTIONS:
            return ""
        now = self.now()
        if action in CONTROL_ACTIONS:
            block = present.command_block(self.view, now)
        else:  # take_control: from anyone but a viewer, on a live connection
            connection = self.view.connection(now)
            block = f"connection {connection}" if connection != "live" else ""
            if not block and present.role(self.view) == "viewer":
                block = "viewer: watching only"
        if not block and action in ENGINEER_ACTIONS and present.role(self.view) != "engineer":
            role = present.role(self.view) or "?"
            article = "an" if role[:1] in "aeiou" else "a"
            block = f"needs the engineer role (you are {article} {role})"
        if not block and action == "packml":
            name = str(parameters[0]) if parameters else ""
            if name not in present.enabled_commands(self.view, now):
                state = self.view.supervisor.get("state")
                where = f" in {state}" if isinstance(state, str) else ""
                block = f"the supervisor does not allow {name}{where}"
        return block

    def may_act(self, action: str, parameters: tuple[object, ...] = ()) -> bool:
        """Whether a key's action may run now (the screens' ``check_action`` asks)."""
        return not self.act_block(action, parameters)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in REPLAY_ACTIONS:  # a replay's keys: off (and hidden) with a live server
            return rp.source(self.view) is not None
        return True if self.may_act(action, parameters) else None

    def on_key(self, event: events.Key) -> None:
        """A key whose line action is disabled now: say why (Textual runs nothing)."""
        active = self.active_bindings.get(event.key)
        if active is None or active.enabled:
            return
        _, action, parameters = parse_action(active.binding.action)
        block = self.act_block(action, parameters)
        if block:
            what = active.binding.description or action
            self.say(f"{what}: not sent: {block}", "bold red")

    def action_packml(self, name: str) -> None:
        if name in present.enabled_commands(self.view, self.now()):
            self.send(name)

    def action_show(self, name: str) -> None:
        self.switch_screen(name)

    def action_station(self) -> None:
        stations = present.stations(self.view)
        if not stations:
            self.say("no stations yet")
            return
        if isinstance(self.screen, OverviewScreen):
            self.screen.action_detail()
            return
        self.push_screen(StationScreen(present.first_station(self.view) or ""))

    def action_take_control(self, force: bool = False) -> None:
        """Take control; by force (T) only once confirmed: it takes it from its holder."""
        if not force:
            self.send("take_control", force=False)
            return
        held = present.holder(self.view) or "nobody"

        def done(yes: bool | None) -> None:
            if yes:
                self.send("take_control", force=True)

        self.push_screen(
            ConfirmDialog(f"Take control by force from {present.fit(held, 30)}?"), done
        )

    def action_release_control(self) -> None:
        self.send("release_control")

    # ---------------------------------------------------------------- a replay's keys
    def action_replay_pause(self) -> None:
        src = rp.source(self.view)
        if src is not None:
            self.send("replay_resume" if src.get("paused") is True else "replay_pause")

    def action_replay_speed(self, faster: bool) -> None:
        src = rp.source(self.view)
        speed = src.get("speed") if src is not None else None
        if isinstance(speed, int | float) and not isinstance(speed, bool):
            self.send("replay_speed", speed=rp.next_speed(float(speed), faster))

    def action_replay_seek(self, direction: int) -> None:
        target = rp.seek_by(self.view, direction * rp.SEEK_STEP_S)
        if target is not None:
            self.send("replay_seek", t_s=target)

    def action_replay_step(self) -> None:
        self.send("replay_step")

    def action_replay_goto(self) -> None:
        def chosen(fields: dict[str, float] | None) -> None:
            if fields:
                self.send("replay_seek", **fields)

        self.push_screen(SeekDialog(), chosen)

    # ---------------------------------------------------------------- commands
    def send(self, command: str, **fields: Any) -> None:
        """Send a command in a worker; its verdict goes to the message line. Not while
        the connection is not live (the keys are off then; a dialog may outlive it)."""
        connection = self.view.connection(self.now())
        if connection != "live":
            self.say(f"{command}: not sent: connection {connection}", "bold red")
            return
        self.sent.append((command, fields))
        self.say(f"{command}: sent…")
        self.run_worker(self._send(command, fields), group="commands")

    async def _send(self, command: str, fields: dict[str, Any]) -> None:
        try:
            result = await self.client.command(command, **fields)
        except (ApiUnreachable, InvalidArgument) as exc:
            self.say(f"{command}: not sent: {exc}", "bold red")
            return
        if result.ok:
            self.say(f"{command}: accepted", "green")
        else:
            text = f"{command} refused ({result.code}): {result.message}"
            self.say(text, "bold red")
            self.notify(text, severity="error", timeout=6)

    def line_screen(self) -> LineScreen | None:
        """The top line screen: under a dialog too (so its header still shows a loss);
        None while screens switch (the stack may be empty for a moment)."""
        return next((s for s in reversed(self.screen_stack) if isinstance(s, LineScreen)), None)

    def say(self, text: str, style: str = "") -> None:
        self.last_message = text
        screen = self.line_screen()
        if screen is not None:
            # still composing: it shows last_message when it resumes
            with contextlib.suppress(NoMatches):
                screen.say(text, style)

    def load_recipes(self) -> None:
        self.run_worker(self._load_recipes(), group="recipes", exclusive=True)

    async def _load_recipes(self) -> None:
        try:
            self.recipes = await self.client.recipes()
        except ApiUnreachable as exc:
            self.say(f"recipes: {exc}", "bold red")
            return
        self.repaint(force=True)
