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
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

from rich.cells import cell_len, set_cell_size

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


TINY = 1e-9
"""Below this magnitude a value prints as 0.00 (a simulator's 3.69e-33 is zero and must
not widen its column)."""


def number(value: float) -> str:
    if not math.isfinite(value):
        return "INVALID"
    if abs(value) < TINY:
        value = 0.0
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-2):
        return f"{value:.3g}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def value_cell(sample: Sample, unit: str = "", channel: str = "") -> Cell:
    """A channel's value: the number with its unit when GOOD; STALE its last number
    marked ``?`` and dimmed (never a plain number); else the quality's name. A status
    word (a channel named ``*status`` with no unit) as an integer and in hex."""
    if sample.value is not None and sample.quality in ("GOOD", "STALE"):
        shown = f"{word(sample.value) if is_word(channel, unit) else number(sample.value)}"
        if sample.quality == "STALE":
            return Cell(f"{shown}? {unit}".strip(), "dim yellow")
        return Cell(f"{shown} {unit}".strip())
    return Cell(sample.quality, QUALITY_STYLE.get(sample.quality, "bold red"))


def is_word(channel: str, unit: str) -> bool:
    """A status word: a channel whose name ends in ``status`` with no unit."""
    return not unit and channel.split(".")[-1].endswith("status")


def word(value: float) -> str:
    """A status word as an integer and in hex (``32 (0x20)``); a value not integral or
    negative (no word of bits) as a number."""
    if not value.is_integer() or not 0 <= value < 2**64:
        return number(value)
    return f"{int(value)} (0x{int(value):X})"


def wall_clock(t_wall: Any) -> str:
    """A wall time as HH:MM:SS (UTC), or an empty string."""
    if _finite(t_wall) and t_wall >= 0:
        try:
            return datetime.fromtimestamp(t_wall, UTC).strftime("%H:%M:%S")
        except (OverflowError, OSError, ValueError):
            return ""
    return ""


def text(value: Any, missing: str = "?") -> str:
    """A field the server sent, as text: a string as it is, a finite number as a number,
    anything else (a list, an object, null, a boolean where text belongs: a lying server)
    as ``missing``, never a Python repr."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float):
            return number(value)
        return str(value) if abs(value) < 10**18 else "?"
    return missing


def not_live(view: LineView, now: float) -> str:
    """The quality word for what the server last said while the connection is not live
    (``LOST``, ``RESYNCING``), or an empty string when it is live (or still connecting:
    nothing is shown then)."""
    connection = view.connection(now)
    return "" if connection in ("live", "connecting") else connection.upper()


def me(view: LineView) -> str:
    you = view.state.get("you", {}) if view.state else {}
    if not isinstance(you, dict):
        return ""
    return f"{text(you.get('user'), '')}@{text(you.get('client'), '')}"


def role(view: LineView) -> str:
    you = view.state.get("you", {}) if view.state else {}
    return text(you.get("role"), "") if isinstance(you, dict) else ""


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
        return f"control held by {fit(held, 40)}" if held else "no control: t takes it"
    return ""


def enabled_commands(view: LineView, now: float) -> frozenset[str]:
    """The PackML commands offered now (see the module docstring)."""
    if command_block(view, now):
        return frozenset()
    return frozenset(name for name, _, _ in PACKML_KEYS) & view.allowed


def header_lines(view: LineView, now: float, width: int = 80) -> list[Cell]:
    """The header on every screen: PackML state, mode and control on the first line, the
    connection on the second, each cut to ``width`` terminal cells and kept to its line
    (``fit``): the holder (last on the first line) is cut, never the connection's word
    (first on the second), nor the state or the mode short of a server's lie (a state
    over 24 cells, a mode over 16, are cut to those).
    While the connection is not live the state, mode and holder are the last heard,
    marked ``?`` and dimmed."""
    connection = view.connection(now)
    sup = view.supervisor
    line = view.state.get("line", {}) if view.state else {}
    name = text(line.get("name"), "") if isinstance(line, dict) else ""
    state = text(sup.get("state"))
    mode = text(sup.get("mode"))
    held = holder(view) or "nobody"
    old = not_live(view, now)
    mark = "?" if old else ""
    state, mode = fit(state, 24) + mark, fit(mode, 16) + mark
    lead = f"{fit(name or 'line', 24)} │ {state} │ {mode} │ control: "
    # the holder gets what is left; at the very least the line is cut to the width
    held = fit(held + mark, width - cell_len(lead))
    first = Cell(fit(lead + held, width), "dim" if old else "bold")
    you = f" │ you: {me(view)} ({role(view) or '?'})"
    if connection == "live":
        second = Cell("connected" + you, "green")
    elif connection == "connecting":
        second = Cell("connecting…" + you, "yellow")
    elif connection == "resyncing":
        second = Cell(f"RESYNCING (values are old): {view.resync_reason}", "bold black on yellow")
    else:
        why = view.closed_reason or "no heartbeat for 3 s"
        second = Cell(f"CONNECTION LOST (values are old): {why}", "bold white on red")
    return [first, Cell(fit(second.text, width), second.style)]


def fit(value: str, width: int) -> str:
    """``value`` on one line (``one_line``) cut to ``width`` terminal cells (a CJK
    character or an emoji takes two), ending in ``…`` when cut."""
    width = max(1, width)
    value = one_line(value)
    if cell_len(value) <= width:
        return value
    return set_cell_size(value, width - 1).rstrip(" ") + "…"


BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""The characters that reorder the text around them on a terminal that does bidi."""


def _control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in BIDI_CONTROLS


def one_line(value: str) -> str:
    """``value`` with every control character (a newline, an escape that would reach the
    terminal as a command, a bell), line separator and bidi control shown as ``�``: a
    server's text is shown, never obeyed, and keeps to its line."""
    if value.isprintable():
        return value
    return "".join("\ufffd" if _control(c) else c for c in value)


def printable(value: str) -> str:
    """``value`` with its lines kept and every other control character shown as ``�``
    (as ``one_line``)."""
    return "\n".join(one_line(part) for part in value.split("\n"))


def line_summary(view: LineView, now: float, width: int = 80) -> str:
    """Speed, web position, metres, recipe, step and what the line waits for, each name
    cut (``fit``: a server's text of any length, the Overview shows three lines of this
    at most: the waits and interlocks as counts, ``waits_line``, cut to ``width``);
    while the connection is not live each number is the quality word (LOST, RESYNCING),
    never the last number, and the step is marked as last heard."""
    sup = view.supervisor
    old = not_live(view, now)

    def metres(key: str, unit: str) -> str:
        v = sup.get(key)
        if old:
            return old
        if _finite(v):
            return f"{number(float(v))} {unit}"
        return "—"

    # each name cut: a server's text of any length leaves the summary its few lines
    recipe = fit(text(sup.get("recipe"), "") or "no recipe", 40)
    step = fit(text(sup.get("step"), "") or "—", 30)
    out = (
        f"speed {metres('line_speed', 'm/min')}  web {metres('web_position_m', 'm')}  "
        f"done {metres('metres_done', 'm')}  to go {metres('metres_to_go', 'm')}\n"
        f"recipe {recipe}  step {step}{'?' if old else ''}"
    )
    if old:
        out += f"  (last heard: connection {old.lower()})"
        return out
    waits = waits_line(view)
    if waits:
        out += "\n" + fit(waits, width)
    return out


def waits_line(view: LineView) -> str:
    """What the line waits for and its active interlocks on one line: the counts first,
    then the first out and the first channel waited for (every one: ``waits_lines``, on
    the Run screen, key 5)."""
    sup = view.supervisor
    waiting = _items(sup.get("waiting_for"))
    interlocks = _items(sup.get("interlocks"))
    counts = []
    if waiting:
        counts.append(f"waiting for {len(waiting)}")
    if interlocks:
        counts.append(f"{len(interlocks)} interlock{'s' if len(interlocks) > 1 else ''}")
    bits = [", ".join(counts) + " (5: all)"] if counts else []
    if sup.get("first_out"):
        bits.append(f"first out: {fit(text(sup['first_out']), 30)}")
    if waiting:
        bits.append(f"first: {fit(text(waiting[0]), 30)}")
    return "  ".join(bits)


def waits_lines(view: LineView) -> list[str]:
    """Everything the line waits for and every active interlock (the Run screen)."""
    sup = view.supervisor
    out = [f"waiting for {fit(text(w), 70)}" for w in _items(sup.get("waiting_for"))]
    out += [f"interlock   {fit(text(i), 70)}" for i in _items(sup.get("interlocks"))]
    if sup.get("first_out"):
        out.append(f"first out   {fit(text(sup['first_out']), 70)}")
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


def first_station(view: LineView) -> str | None:
    """The station a Station screen opens on: the first in web order that has channels
    (the unwind may have none), else the first; None with no stations."""
    named = [str(s["name"]) for s in stations(view)]
    return next((n for n in named if channels_of(view, n)), named[0] if named else None)


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


def since_full(view: LineView) -> list[dict[str, Any]]:
    """The events that came after the last ``full`` state (``events_since_full``: those
    before it may be another run's, of a server restarted since, whose numbers began
    again) and that it does not count already (its ``run.events`` counts the server's
    events then; an event's ``seq`` is that count): none when it does not say how many,
    so nothing seen before it is applied again."""
    run = view.state.get("run") if view.state else None
    base = run.get("events") if isinstance(run, dict) else None
    if not isinstance(base, int) or isinstance(base, bool) or not view.events_since_full:
        return []
    return [
        e
        for e in list(view.events)[-view.events_since_full :]
        if isinstance(e.get("seq"), int) and not isinstance(e.get("seq"), bool) and e["seq"] > base
    ]


def _data(envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope.get("data")
    return data if isinstance(data, dict) else {}


def band_of(view: LineView, channel: str) -> dict[str, Any] | None:
    """The recipe band of ``channel``: the one that reads it (the measured value's row)
    or the one that sets it (the setpoint's row): both rows of a loop lead to one band."""
    bands = view.state.get("bands", {}) if view.state else {}
    if not isinstance(bands, dict):
        return None
    band = bands.get(channel)
    if isinstance(band, dict):
        return band
    return next(
        (b for b in bands.values() if isinstance(b, dict) and b.get("sets") == channel), None
    )


def setpoint_now(view: LineView, band: dict[str, Any]) -> float | None:
    """The band's setpoint as the stream last told: the full state's, then each accepted
    ``change_setpoint`` of its field since (None: unknown, a recipe loaded since the
    full state, whose bands the stream does not send)."""
    value = band.get("setpoint")
    now = float(value) if _finite(value) else None
    for e in since_full(view):
        data = _data(e)
        if e.get("type") == "RecipeLoaded":
            now = None
        elif (
            e.get("type") == "CommandGiven"
            and data.get("command") == "change_setpoint"
            and data.get("field") == band.get("field")
            and _finite(data.get("value"))
        ):
            now = float(data["value"])
    return now


def recipe_changed(view: LineView) -> bool:
    return any(e.get("type") == "RecipeLoaded" for e in since_full(view))


def _finite(value: Any) -> TypeGuard[int | float]:
    """A number (not a boolean) a float holds finitely (an int past a float's range is
    none: ``math.isfinite`` of it raises)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**300


def _num(value: Any) -> str:
    return number(float(value)) if _finite(value) else "?"


BAND_LEGEND = "[low..high]: the recipe's band  [no band]: none, limits apply  ?: not known"
"""The station screen's legend of the band column (one line at 80 columns)."""


def band_text(view: LineView, channel: str) -> str:
    """``setpoint [low..high]`` of the channel's band (``[no band]`` when the recipe gives
    none; ``?`` for what is not known), or an empty string when it has no band."""
    band = band_of(view, channel)
    if band is None:
        return ""
    if recipe_changed(view):
        return "? (new recipe)"
    setpoint = setpoint_now(view, band)
    shown = number(setpoint) if setpoint is not None else "?"
    low, high = band.get("low"), band.get("high")
    if low is None and high is None:
        return f"{shown} [no band]"
    return f"{shown} [{_num(low)}..{_num(high)}]"


def band_detail(view: LineView, channel: str) -> str:
    """The selected row's band in full (the table's column is cut at 80 columns)."""
    band = band_of(view, channel)
    if band is None:
        return f"{channel}: no recipe band"
    field = text(band.get("field"))
    limits = band.get("limits")
    lims = (
        f"{_num(limits[0])}..{_num(limits[1])}"
        if isinstance(limits, list) and len(limits) == 2
        else "?"
    )
    sets = text(band.get("sets"), "nothing (measured only)")
    return (
        f"{channel}: {field} {band_text(view, channel)}, equipment limits {lims}, "
        f"sets {sets} (e: change)"
    )


def shown_sample(view: LineView, channel: str, now: float) -> Sample:
    """A channel's value as shown: STALE (its last number not shown) while the connection
    is not live, since nothing says it still holds."""
    sample = view.sample(channel)
    if view.connection(now) in ("live", "connecting") or sample.quality != "GOOD":
        return sample
    return Sample(None, "STALE", sample.t_wall)


def device_of(channel: str, info: dict[str, Any]) -> str:
    device = info.get("device")
    return device if isinstance(device, str) else channel.split(".", 1)[0]


# ------------------------------------------------------------------ the overview
QUALITY_RANK = {"GOOD": 0, "WAITING": 1, "STALE": 2, "INVALID": 3}

ROW_COLUMNS = ("station", "key values: PV/SP unit", "quality", "alarms")

KEY_WIDTH = 48
"""The key-values column's cells at most (the rest of a station's loops: ``+N``, in
full on the detail line below the table and on its station screen)."""


def group_channels(view: LineView, group: str) -> list[tuple[str, dict[str, Any]]]:
    """The channels of an overview row: a listed station's, or, for a device on no
    listed station (the drive), that device's."""
    named = {str(s["name"]) for s in stations(view)}
    if group in named:
        return channels_of(view, group)
    return [(c, i) for c, i in unplaced_channels(view, named) if device_of(c, i) == group]


def overview_groups(view: LineView) -> list[str]:
    """The overview's rows: the stations in web order, then each device on none."""
    named = list(dict.fromkeys(str(s["name"]) for s in stations(view)))  # a name once
    devices: list[str] = []
    for channel, info in unplaced_channels(view, set(named)):
        device = device_of(channel, info)
        if device not in devices:
            devices.append(device)
    return named + devices


def key_loops(
    chans: list[tuple[str, dict[str, Any]]], bands: dict[str, Any] | None = None
) -> list[tuple[str, str, list[str], list[str]]]:
    """A station's key values, from the channel names and ``writable`` the server sends
    (it sends no role): each loop, a writable setpoint ``<name>_sp_<unit>`` with its
    measured ``<name>_pv_<unit>`` on the same device, as (label, unit, PV channels, SP
    channels), the same loop on several devices (an oven's zones) as one; a device with no
    such loop shows its first measured channel with a unit (an O2 analyser's ppm, a
    gauge's pressure) with no setpoint. A recipe band that reads a channel and sets
    another of its device (``bands``: measured channel -> ``sets``) is a loop too."""
    sets = {
        k: b["sets"]
        for k, b in (bands or {}).items()
        if isinstance(b, dict) and isinstance(b.get("sets"), str)
    }
    by_device: dict[str, dict[str, dict[str, Any]]] = {}
    for channel, info in chans:
        by_device.setdefault(device_of(channel, info), {})[channel.split(".", 1)[-1]] = info
    loops: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    seen: set[tuple[str, str]] = set()  # (PV, SP): a loop both rules find is one loop

    def add(label: str, unit: str, pv: str, sp: str) -> None:
        if (pv, sp) in seen:
            return
        seen.add((pv, sp))
        pvs, sps = loops.setdefault((label, unit), ([], []))
        pvs.append(pv)
        sps.append(sp)

    for device, shorts in by_device.items():
        found = False
        for short, info in shorts.items():
            tokens = short.split("_")
            sp = sets.get(f"{device}.{short}", "")
            if sp.startswith(f"{device}.") and sp.split(".", 1)[1] in shorts:
                found = True
                unit = text(info.get("unit"), "")
                add(_loop_label(tokens, unit), unit, f"{device}.{short}", sp)
                continue
            if not info.get("writable") or "sp" not in tokens:
                continue
            i = tokens.index("sp")
            pv = "_".join([*tokens[:i], "pv", *tokens[i + 1 :]])
            if pv not in shorts or i == 0:
                continue
            found = True
            unit = text(shorts[pv].get("unit"), "")
            add("_".join(tokens[:i]), unit, f"{device}.{pv}", f"{device}.{short}")
        if found:
            continue
        for short, info in shorts.items():
            unit = text(info.get("unit"), "")
            if info.get("writable") or not unit:
                continue
            label = _label(short.split("_"), unit)
            loops.setdefault((label, unit), ([], []))[0].append(f"{device}.{short}")
            break
    return [(label, unit, pvs, sps) for (label, unit), (pvs, sps) in loops.items()]


def _loop_label(tokens: list[str], unit: str) -> str:
    """A measured channel's loop name: the part before ``pv`` (temp_pv_c: temp), else
    its name less its unit."""
    if "pv" in tokens and tokens.index("pv") > 0:
        return "_".join(tokens[: tokens.index("pv")])
    return _label(tokens, unit)


def _label(tokens: list[str], unit: str) -> str:
    """A channel's short name less a last part that spells its unit (o2_ppm: o2)."""
    squashed = "".join(ch for ch in unit.lower() if ch.isalnum())
    return "_".join(tokens[:-1]) if len(tokens) > 1 and tokens[-1] == squashed else "_".join(tokens)


def reading(samples: list[Sample]) -> str:
    """One or several channels' values as one text: the number (min..max when they
    differ), the last number marked ``?`` when the worst is STALE, else the worst
    quality's word (INVALID, WAITING): never a plain number that is not GOOD."""
    if not samples:
        return "—"
    worst = max(samples, key=lambda s: QUALITY_RANK.get(s.quality, 3))
    if worst.quality not in ("GOOD", "STALE") or any(s.value is None for s in samples):
        return worst.quality if worst.quality != "GOOD" else "INVALID"
    values = [float(s.value) for s in samples if s.value is not None]
    low, high = min(values), max(values)
    shown = number(low) if number(low) == number(high) else f"{number(low)}..{number(high)}"
    return shown + ("?" if worst.quality == "STALE" else "")


def loop_texts(view: LineView, group: str, now: float) -> list[str]:
    """The key values of an overview row, each ``label PV/SP unit`` (``key_loops``)."""
    out = []
    bands = view.state.get("bands") if view.state else None
    loops = key_loops(group_channels(view, group), bands if isinstance(bands, dict) else None)
    for label, unit, pvs, sps in loops:
        pv = reading([shown_sample(view, c, now) for c in pvs])
        sp = f"/{reading([shown_sample(view, c, now) for c in sps])}" if sps else ""
        out.append(f"{label} {pv}{sp} {unit}".rstrip())
    return out


def worst_quality(view: LineView, channels: list[str], now: float) -> str:
    qualities = [shown_sample(view, c, now).quality for c in channels]
    return max(qualities, key=lambda q: QUALITY_RANK.get(q, 3), default="")


def station_rows(view: LineView, now: float) -> list[tuple[str, tuple[Cell, ...]]]:
    """The overview: one row per station in web order (then a device on no station, the
    drive), with its key values (``loop_texts``, cut to ``KEY_WIDTH`` whole: the rest
    counted ``+N``), the worst quality of all its channels, and its active alarms (red
    while one is unacknowledged)."""
    rows: list[tuple[str, tuple[Cell, ...]]] = []
    active = view.active_alarms()
    for group in overview_groups(view):
        chans = [c for c, _ in group_channels(view, group)]
        loops = loop_texts(view, group, now)
        shown: list[str] = []
        for i, loop in enumerate(loops):
            rest = len(loops) - i - 1
            candidate = "  ".join([*shown, loop]) + (f" +{rest}" if rest else "")
            if shown and cell_len(candidate) > KEY_WIDTH:
                break
            shown.append(loop)
        values = "  ".join(shown) + (
            f" +{len(loops) - len(shown)}" if len(loops) > len(shown) else ""
        )
        if not chans:
            values = "no channels"
        elif not loops:
            values = f"{len(chans)} channel{'s' if len(chans) > 1 else ''}, no loop (enter: each)"
        quality = worst_quality(view, chans, now)
        mine = [a for a in active if a.get("channel") in chans or a.get("device") == group]
        unack = [a for a in mine if _unacknowledged(text(a.get("state")))]
        alarm = f"{len(mine)}" + (f", {len(unack)} unack" if unack else "") if mine else ""
        style = "bold red" if unack else ("yellow" if mine else QUALITY_STYLE.get(quality, ""))
        rows.append(
            (
                group,
                (
                    Cell(group, "bold red" if unack else "bold"),
                    Cell(values, style if quality != "GOOD" or mine else ""),
                    Cell(quality if quality != "GOOD" else "good", QUALITY_STYLE.get(quality, "")),
                    Cell(alarm, style),
                ),
            )
        )
    return rows


def _unacknowledged(state: str) -> bool:
    return state.endswith("UNACK") or state == "RTNUN"


def row_detail(view: LineView, key: str, now: float) -> str:
    """The overview's selected station in full: every key value (the table cuts them)."""
    if not group_channels(view, key):
        return f"{key}: no channels"
    loops = loop_texts(view, key, now)
    return f"{key}: {'  '.join(loops) or 'no key values'} (enter: every channel)"


ALARM_COLUMNS = ("state", "priority", "alarm", "value", "since", "guidance")


PRIORITY_RANK = {"urgent": 0, "high": 1, "medium": 2, "low": 3}


def sorted_alarms(view: LineView) -> list[dict[str, Any]]:
    """The active alarms in the order shown: unacknowledged first, then latched (a latched
    alarm blocks Unhold until reset), then by priority, then the oldest first."""

    def order(a: dict[str, Any]) -> tuple[int, int, int, float]:
        state = text(a.get("state"), "")
        since = a.get("since")
        return (
            0 if _unacknowledged(state) else 1,
            0 if state.startswith("LATCHED") else 1,
            PRIORITY_RANK.get(text(a.get("priority"), ""), 4),
            float(since) if _finite(since) else math.inf,
        )

    return sorted(view.active_alarms(), key=order)


def unacknowledged_alarms(view: LineView) -> list[str]:
    """The names of the active alarms not acknowledged (``K`` acknowledges them all)."""
    return [
        str(a["name"]) for a in sorted_alarms(view) if _unacknowledged(text(a.get("state"), ""))
    ]


def alarm_detail(view: LineView, name: str, now: float) -> str:
    """The selected alarm in full: state, priority, value, since, the shelve's expiry
    (line time, UTC, as every time here) and its whole guidance (the table cuts it)."""
    alarm = next((a for a in view.active_alarms() if a.get("name") == name), None)
    if alarm is None:
        return ""
    value = alarm.get("value")
    old = not_live(view, now)
    shown = old or (number(float(value)) if _finite(value) else "—")
    since = wall_clock(alarm.get("since")) or "?"
    shelved = wall_clock(alarm.get("shelved_until"))
    return (
        f"{name}: {text(alarm.get('state'))} {text(alarm.get('priority'), '')}, value {shown}, "
        f"since {since}"
        + (f", shelved until {shelved} line time" if shelved else "")
        + f"; {text(alarm.get('guidance'), '') or 'no guidance'}"
    )


def alarm_rows(view: LineView, now: float) -> list[tuple[str, tuple[Cell, ...]]]:
    """Active alarms in ``sorted_alarms``' order: (alarm name, cells). A field of the wrong type
    is ``?``; while the connection is not live the value is the quality word and the
    state is marked ``?`` (as last heard)."""
    old = not_live(view, now)
    rows: list[tuple[str, tuple[Cell, ...]]] = []
    for a in sorted_alarms(view):
        state = text(a.get("state"))
        unack = state.endswith("UNACK") or state == "RTNUN"
        style = "bold red" if unack else ("dim" if state in ("SHLVD", "OOSRV", "DSUPR") else "")
        value = a.get("value")
        if old:
            value_cell = Cell(old, QUALITY_STYLE["STALE"])
        elif _finite(value):
            value_cell = Cell(number(float(value)))
        else:
            value_cell = Cell("—")
        shelved = wall_clock(a.get("shelved_until"))
        rows.append(
            (
                str(a["name"]),
                (
                    Cell(state + ("?" if old else ""), "dim" if old else style),
                    Cell(text(a.get("priority"), "")),
                    Cell(str(a["name"]), style),
                    value_cell,
                    Cell(wall_clock(a.get("since"))),
                    Cell(
                        (f"shelved until {shelved}; " if shelved else "")
                        + text(a.get("guidance"), "")
                    ),
                ),
            )
        )
    return rows


def trend_scale(view: LineView, channel: str, points: list[tuple[float, float]], now: float) -> str:
    """The scale of the trend shown: its channel, min and max with the unit, and the span
    of line time it covers (or why there is nothing to draw)."""
    line = view.state.get("line", {}) if view.state else {}
    chans = line.get("channels", {}) if isinstance(line, dict) else {}
    info = chans.get(channel) if isinstance(chans, dict) else None
    unit = text(info.get("unit"), "") if isinstance(info, dict) else ""
    if not points:
        return f"trend {channel}: no GOOD value yet"
    values = [v for _, v in points]
    times = [t for t, _ in points]
    span = max(times) - min(times)  # a stamp that went back is no negative span
    old = not_live(view, now)
    return (
        f"trend {channel}: min {number(min(values))} max {number(max(values))} {unit}".rstrip()
        + f", last {seconds(span)} s line time"
        + (f" (connection {old.lower()}: stopped)" if old else "")
    )


def trend_shape(values: list[float]) -> list[float]:
    """The trend's values as drawn: each one's place between their min (0) and max (1),
    every step finite (the Sparkline divides by max - min, which overflows to infinity
    for values near a float's range, 1e308 and -1e308: the repaint raised); all equal
    is all 0. Its scale in numbers is ``trend_scale``'s."""
    if not values:
        return []
    low, high = min(values), max(values)
    extent = high / 2 - low / 2  # halves: finite whatever the two finite ends
    if extent <= 0:
        return [0.0] * len(values)
    return [min(1.0, max(0.0, (v / 2 - low / 2) / extent)) for v in values]


def recipe_detail(recipe: dict[str, Any]) -> str:
    """A recipe's violations (joined by ``;``) or, when none, its derived values."""
    violations = _items(recipe.get("violations"))
    if violations:
        return "; ".join(text(v) for v in violations)
    derived = recipe.get("derived")
    if not isinstance(derived, dict):
        return ""
    return ", ".join(f"{k}={compact(v)}" for k, v in derived.items())


def compact(value: Any) -> str:
    """A derived value: a scalar as ``text``, a list of scalars joined by ``/``, an
    object or a nested list as ``…`` (the Recipes screen is no place for its detail)."""
    if isinstance(value, list):
        if all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            return "/".join(text(v) for v in value) or "none"
        return "…"
    if isinstance(value, dict):
        return "…"
    return text(value)


def seconds(span: float) -> str:
    """A span of seconds: whole seconds, or ``number``'s short form from 1e9 s up (a
    lying clock, 1e308, made a 309-digit line), ``?`` when not finite (its two ends at
    a float's range)."""
    if not math.isfinite(span):
        return "?"
    return f"{span:.0f}" if abs(span) < 1e9 else number(span)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def run_lines(view: LineView) -> list[str]:
    """The Run screen: the run's id, start and duration on the line's clock (a simulated
    run at a speed-up runs it faster than the wall), log size, events and operator
    actions. The counts follow the stream (the full state's, then each event since:
    an accepted command is a ``CommandGiven``); the log size is the full state's."""
    run = view.state.get("run") if view.state else None
    if not isinstance(run, dict) or not run:
        return ["no run"]
    started = run.get("started")
    clock = view.server_time
    span = clock - float(started) if _finite(started) and clock is not None else math.nan
    duration = f"{seconds(max(0.0, span))} s line time" if math.isfinite(span) else "?"
    after = since_full(view)
    events, actions = _count(run.get("events")), _count(run.get("operator_actions"))
    if events is not None:
        seqs = [e["seq"] for e in after]
        events = max([events, *seqs])
    if actions is not None:
        actions += sum(1 for e in after if e.get("type") == "CommandGiven")
    size = _count(run.get("bytes"))
    return [
        f"run       {text(run.get('id'))}",
        f"started   {wall_clock(started) or '?'} UTC, line time",
        f"duration  {duration}",
        f"log       {text(run.get('dir'))}",
        f"log size  {size if size is not None else '?'} bytes at connect (not updated live)",
        f"events    {events if events is not None else '?'}",
        f"operator actions {actions if actions is not None else '?'}",
    ]


EVENT_FIELDS = (
    "old", "new", "alarm", "device", "channel", "interlock", "field", "value",
    "state", "error", "reason", "cause", "by",
)  # fmt: skip
"""The fields an event line shows, in this order, when the event has them."""

EVENTS_TITLE = "recent events (line time, UTC):"

INTERNAL_EVENTS = frozenset({"AlarmInputs", "RowsSkipped", "SupervisorStopped", "AlarmStatesKept"})
"""Events for the run log's readers, not the operator: not in the screens' recent events."""


def operator_events(view: LineView) -> list[dict[str, Any]]:
    """The events the screens show: all but ``INTERNAL_EVENTS``."""
    return [e for e in view.events if e.get("type") not in INTERNAL_EVENTS]


def is_loaded(recipe: dict[str, Any], loaded: str) -> bool:
    """Whether the supervisor's recipe (its name or path, as the status says) is this one."""
    if not loaded:
        return False
    path = text(recipe.get("path"), "")
    return loaded in (path, text(recipe.get("name"), ""), path.rsplit("/", 1)[-1])


def event_line(envelope: dict[str, Any]) -> str:
    """One event as a line: its time on the line's clock, type and most telling fields
    (a field of the wrong type is ``?``; each cut to 40 cells, so a long one leaves the
    others their room; the screens cut the line at their width, never wrap it)."""
    data = _data(envelope)
    kind = fit(text(envelope.get("type")), 40)
    bits = []
    for key in EVENT_FIELDS:
        if data.get(key) not in (None, ""):
            bits.append(f"{key}={fit(text(data[key]), 40)}")
    command = data.get("command")
    if isinstance(command, str) and command:
        bits.insert(0, fit(command, 40))
    return f"{wall_clock(envelope.get('t_wall'))} {kind} {' '.join(bits)}".strip()
