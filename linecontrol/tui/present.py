"""What the TUI's screens show, computed from a ``LineView`` (no Textual here).

Every screen paints from these functions on a timer; they decide the text and its style,
so the rules are testable without a terminal:

- A value is shown as a number only when its quality is GOOD; STALE, INVALID and
  WAITING are shown as those words, never as a number that looks good.
- The PackML commands are offered (enabled) only when the connection is live, the
  supervisor allows them now, the caller's role is not ``viewer`` and the caller holds
  control; every other command is shown disabled, with why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from linecontrol.api import LineView, Sample

PACKML_KEYS: tuple[tuple[str, str, str], ...] = (
    ("reset", "r", "Reset"),
    ("start", "s", "Start"),
    ("stop", "x", "Stop"),
    ("hold", "h", "Hold"),
    ("unhold", "u", "Unhold"),
    ("suspend", "p", "Suspend"),
    ("unsuspend", "o", "Unsuspend"),
    ("abort", "A", "Abort"),
    ("clear", "c", "Clear"),
)
"""(wire name, key, label) of the nine PackML commands, in the order shown."""

QUALITY_STYLE = {
    "GOOD": "",
    "STALE": "bold yellow",
    "INVALID": "bold red",
    "WAITING": "dim",
}


@dataclass(frozen=True)
class Cell:
    text: str
    style: str = ""


def number(value: float) -> str:
    if not math.isfinite(value):
        return "INVALID"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-2):
        return f"{value:.3g}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def value_cell(sample: Sample, unit: str = "") -> Cell:
    """A channel's value: the number with its unit when GOOD, else the quality's name."""
    if sample.good and sample.value is not None:
        return Cell(f"{number(sample.value)} {unit}".strip())
    return Cell(sample.quality, QUALITY_STYLE.get(sample.quality, "bold red"))


def wall_clock(t_wall: Any) -> str:
    """A wall time as HH:MM:SS (UTC), or an empty string."""
    if isinstance(t_wall, int | float) and math.isfinite(t_wall) and t_wall >= 0:
        try:
            return datetime.fromtimestamp(t_wall, UTC).strftime("%H:%M:%S")
        except (OverflowError, OSError, ValueError):
            return ""
    return ""


def me(view: LineView) -> str:
    you = view.state.get("you", {}) if view.state else {}
    if not isinstance(you, dict):
        return ""
    return f"{you.get('user', '')}@{you.get('client', '')}"


def role(view: LineView) -> str:
    you = view.state.get("you", {}) if view.state else {}
    return str(you.get("role", "")) if isinstance(you, dict) else ""


def holder(view: LineView) -> str | None:
    held = view.control.get("holder")
    return held if isinstance(held, str) and held else None


def command_block(view: LineView, now: float) -> str:
    """Why no command can be sent now, or an empty string when commands can be."""
    connection = view.connection(now)
    if connection != "live":
        return f"connection {connection}"
    if role(view) == "viewer":
        return "viewer: watching only"
    held = holder(view)
    if held != me(view):
        return f"control held by {held}" if held else "no control: t takes it"
    return ""


def enabled_commands(view: LineView, now: float) -> frozenset[str]:
    """The PackML commands offered now (see the module docstring)."""
    if command_block(view, now):
        return frozenset()
    return frozenset(name for name, _, _ in PACKML_KEYS) & view.allowed


def header_lines(view: LineView, now: float) -> list[Cell]:
    """The header on every screen: connection, PackML state and mode, control."""
    connection = view.connection(now)
    sup = view.supervisor
    line = view.state.get("line", {}) if view.state else {}
    name = line.get("name", "") if isinstance(line, dict) else ""
    state = str(sup.get("state", "?"))
    mode = str(sup.get("mode", "?"))
    held = holder(view) or "nobody"
    first = Cell(f"{name or 'line'} │ {state} │ {mode} │ control: {held}", "bold")
    you = f" │ you: {me(view)} ({role(view) or '?'})"
    if connection == "live":
        second = Cell("connected" + you, "green")
    elif connection == "connecting":
        second = Cell("connecting…" + you, "yellow")
    elif connection == "resyncing":
        second = Cell(f"RESYNCING: {view.resync_reason}", "bold black on yellow")
    else:
        why = view.closed_reason or "no heartbeat for 3 s"
        second = Cell(f"CONNECTION LOST (values are old): {why}", "bold white on red")
    return [first, second]


def line_summary(view: LineView) -> str:
    sup = view.supervisor

    def metres(key: str, unit: str) -> str:
        v = sup.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return f"{number(float(v))} {unit}"
        return "—"

    recipe = sup.get("recipe") or "no recipe"
    step = sup.get("step") or "—"
    waiting = ", ".join(str(w) for w in _items(sup.get("waiting_for")))
    out = (
        f"speed {metres('line_speed', 'm/min')}  web {metres('web_position_m', 'm')}  "
        f"done {metres('metres_done', 'm')}  to go {metres('metres_to_go', 'm')}\n"
        f"recipe {recipe}  step {step}"
    )
    if waiting:
        out += f"  waiting for {waiting}"
    if sup.get("first_out"):
        out += f"  first out: {sup['first_out']}"
    interlocks = _items(sup.get("interlocks"))
    if interlocks:
        out += f"  interlocks: {', '.join(str(i) for i in interlocks)}"
    return out


def command_bar(view: LineView, now: float) -> list[tuple[str, str, bool]]:
    """(key, label, enabled) for each PackML command."""
    enabled = enabled_commands(view, now)
    return [(key, label, name in enabled) for name, key, label in PACKML_KEYS]


def _items(value: Any) -> list[Any]:
    """A list the server sent, or none: a server that sends another type for it (a number
    for ``waiting_for``) shows nothing there rather than failing the repaint."""
    return list(value) if isinstance(value, list) else []


def stations(view: LineView) -> list[dict[str, Any]]:
    line = view.state.get("line", {}) if view.state else {}
    found = _items(line.get("stations")) if isinstance(line, dict) else []
    return [s for s in found if isinstance(s, dict) and isinstance(s.get("name"), str)]


def channels_of(view: LineView, station: str) -> list[tuple[str, dict[str, Any]]]:
    """The channels of a station, in the order the server lists them."""
    line = view.state.get("line", {}) if view.state else {}
    chans = line.get("channels", {}) if isinstance(line, dict) else {}
    if not isinstance(chans, dict):
        return []
    return [
        (name, info)
        for name, info in chans.items()
        if isinstance(info, dict) and info.get("station") == station
    ]


OTHER = "(no station)"


def unplaced_channels(view: LineView, named: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """The channels of no station the line lists (the drive, a line-wide instrument)."""
    line = view.state.get("line", {}) if view.state else {}
    chans = line.get("channels", {}) if isinstance(line, dict) else {}
    if not isinstance(chans, dict):
        return []
    return [
        (name, info)
        for name, info in chans.items()
        if isinstance(info, dict) and info.get("station") not in named
    ]


def band_text(view: LineView, channel: str) -> str:
    bands = view.state.get("bands", {}) if view.state else {}
    band = bands.get(channel) if isinstance(bands, dict) else None
    if not isinstance(band, dict):
        return ""
    parts = []
    for key in ("setpoint", "low", "high"):
        v = band.get(key)
        parts.append(number(float(v)) if isinstance(v, int | float) else "?")
    return f"{parts[0]} [{parts[1]}..{parts[2]}]"


ROW_COLUMNS = ("station", "channel", "value", "quality", "setpoint [band]")


def shown_sample(view: LineView, channel: str, now: float) -> Sample:
    """A channel's value as shown: STALE (its last number not shown) while the connection
    is not live, since nothing says it still holds."""
    sample = view.sample(channel)
    if view.connection(now) in ("live", "connecting") or sample.quality != "GOOD":
        return sample
    return Sample(None, "STALE", sample.t_wall)


def station_rows(view: LineView, now: float) -> list[tuple[str, tuple[Cell, ...]]]:
    """The overview's rows: per station in web order, its channels (key, cells); a
    channel an active alarm watches is marked ``!`` in red."""
    rows: list[tuple[str, tuple[Cell, ...]]] = []
    named = [str(s["name"]) for s in stations(view)]
    alarmed = {str(a["channel"]) for a in view.active_alarms() if a.get("channel")}
    for name, chans in [
        *((n, channels_of(view, n)) for n in named),
        (OTHER, unplaced_channels(view, set(named))),
    ]:
        if name == OTHER and not chans:
            continue
        if not chans:
            rows.append((f"{name}:", (Cell(name, "bold"), Cell(""), Cell(""), Cell(""), Cell(""))))
        for i, (channel, info) in enumerate(chans):
            sample = shown_sample(view, channel, now)
            unit = str(info.get("unit") or "")
            cell = value_cell(sample, unit)
            quality = Cell(sample.quality, QUALITY_STYLE.get(sample.quality, "bold red"))
            short = channel.split(".", 1)[1] if "." in channel else channel
            rows.append(
                (
                    channel,
                    (
                        Cell(name if i == 0 else "", "bold"),
                        Cell(
                            short
                            + (" ✎" if info.get("writable") else "")
                            + (" !" if channel in alarmed else ""),
                            "bold red" if channel in alarmed else "",
                        ),
                        cell,
                        quality,
                        Cell(band_text(view, channel)),
                    ),
                )
            )
    return rows


ALARM_COLUMNS = ("state", "priority", "alarm", "value", "since", "guidance")


def alarm_rows(view: LineView) -> list[tuple[str, tuple[Cell, ...]]]:
    """Active alarms, unacknowledged first: (alarm name, cells)."""
    rows: list[tuple[str, tuple[Cell, ...]]] = []
    for a in view.active_alarms():
        state = str(a.get("state", "?"))
        unack = state.endswith("UNACK") or state == "RTNUN"
        style = "bold red" if unack else ("dim" if state in ("SHLVD", "OOSRV", "DSUPR") else "")
        value = a.get("value")
        value_text = (
            number(float(value))
            if isinstance(value, int | float) and not isinstance(value, bool)
            else "—"
        )
        shelved = wall_clock(a.get("shelved_until"))
        rows.append(
            (
                str(a["name"]),
                (
                    Cell(state, style),
                    Cell(str(a.get("priority", ""))),
                    Cell(str(a["name"]), style),
                    Cell(value_text),
                    Cell(wall_clock(a.get("since"))),
                    Cell(
                        (f"shelved until {shelved}; " if shelved else "")
                        + str(a.get("guidance", "") or "")
                    ),
                ),
            )
        )
    return rows


def run_lines(view: LineView, now_wall: float) -> list[str]:
    """The Run screen: the run's id, duration, log size, events, operator actions."""
    run = view.state.get("run") if view.state else None
    if not isinstance(run, dict) or not run:
        return ["no run"]
    started = run.get("started")
    duration = (
        f"{max(0.0, now_wall - float(started)):.0f} s"
        if isinstance(started, int | float) and math.isfinite(started)
        else "?"
    )
    size = run.get("bytes")
    return [
        f"run       {run.get('id', '?')}",
        f"started   {wall_clock(started)} UTC",
        f"duration  {duration}",
        f"log       {run.get('dir', '?')}",
        f"log size  {size if isinstance(size, int) else '?'} bytes",
        f"events    {run.get('events', '?')}",
        f"operator actions {run.get('operator_actions', '?')}",
    ]


def event_line(envelope: dict[str, Any]) -> str:
    """One event as a line: time, type and its most telling fields."""
    data = envelope.get("data") if isinstance(envelope.get("data"), dict) else {}
    assert isinstance(data, dict)
    kind = str(envelope.get("type", "?"))
    bits = []
    for key in ("old", "new", "alarm", "reason", "cause", "by"):
        if data.get(key):
            bits.append(f"{key}={data[key]}")
    command = data.get("command")
    if isinstance(command, dict) and command.get("command"):
        bits.insert(0, str(command["command"]))
    return f"{wall_clock(envelope.get('t_wall'))} {kind} {' '.join(bits)}".strip()
