"""Alarm definitions of the line config: the ``[alarms.<id>]`` tables (pure, no I/O).

Each table says which channel (``device.channel``) the alarm watches, what kind of limit it
is (``high``, ``high_high``, ``low``, ``low_low``, ``deviation``, ``rate_of_change``,
``discrete``, ``comm_loss``), its priority, deadband, on- and off-delay, whether it
latches, the guidance the operator reads, the consequence the supervisor draws (``none``,
``suspend``, ``hold``, ``stop``, ``abort``) and the PackML states in which it is
suppressed by design (``suppress_in``). The engine (``linecontrol.alarms``) reads them;
what each field means there is said on :class:`AlarmDefinition`.

Each table is checked on its own here (the fields its kind needs, no field it cannot use,
windows); ``alarm_channel_problem`` checks the channels against the line's ``[devices]``
and the device registry (``LineConfig`` calls it), so every error names the file, the
field, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, model_validator

from drivers.config import DeviceConfig
from drivers.devices import MODELS
from linecontrol.config.tomlfile import StrictModel

AlarmKind = Literal[
    "high",
    "high_high",
    "low",
    "low_low",
    "deviation",
    "rate_of_change",
    "discrete",
    "comm_loss",
]
AlarmPriority = Literal["low", "medium", "high", "urgent"]
Consequence = Literal["none", "suspend", "hold", "stop", "abort"]
RateDirection = Literal["rise", "fall", "either"]
# The PackML (ISA-TR88.00.02) state names, as the supervisor names its states.
PackMLStateName = Literal[
    "Stopped",
    "Starting",
    "Idle",
    "Suspending",
    "Suspended",
    "Unsuspending",
    "Execute",
    "Stopping",
    "Aborting",
    "Aborted",
    "Holding",
    "Held",
    "Unholding",
    "Completing",
    "Complete",
    "Resetting",
    "Clearing",
]

ALARM_KINDS: tuple[AlarmKind, ...] = (
    "high",
    "high_high",
    "low",
    "low_low",
    "deviation",
    "rate_of_change",
    "discrete",
    "comm_loss",
)
# Most severe first: the order in which the supervisor weighs what alarms demand.
CONSEQUENCES: tuple[Consequence, ...] = ("abort", "stop", "hold", "suspend", "none")
LIMIT_KINDS = frozenset({"high", "high_high", "low", "low_low", "deviation", "rate_of_change"})
# Eight hours: the longest an operator may shelve an alarm unless its table says otherwise.
DEFAULT_MAX_SHELVE_S = 8 * 3600.0

NonNeg = Annotated[float, Field(ge=0.0)]
ChannelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_]+$")]


class AlarmDefinition(StrictModel):
    """One ``[alarms.<id>]`` table.

    - ``high``/``high_high``: active when the value is above ``limit``, clear again when it
      is at or below ``limit - deadband``; ``low``/``low_low`` mirror it (below ``limit``,
      clear at or above ``limit + deadband``).
    - ``deviation``: active when ``|value - setpoint|`` is above ``limit`` (the band),
      clear at or below ``limit - deadband``. The setpoint is the channel ``setpoint``
      names, or, without it, the value the supervisor passes for ``channel`` (the
      recipe's, ``AlarmContext.setpoints``).
    - ``rate_of_change``: active when the change per minute over the last ``window_s``
      seconds is above ``limit`` (``direction``: rising, falling or either way), clear at
      or below ``limit - deadband``.
    - ``discrete``: active when bit ``bit`` of the channel (a status word) is set, or when
      the value equals ``equals``; with ``bit``, a value that is not a whole number of at
      least 0 is no status word, and moves nothing.
    - ``comm_loss``: active when the channel has no GOOD value (STALE, INVALID, or still
      WAITING once acquisition's start-up grace is over): the communication-loss class.

    ``on_delay_s``: the condition must hold that long before the alarm is active;
    ``off_delay_s``: it must be clear that long before the alarm clears. ``latching``: once
    active, the alarm stays annunciated after the condition clears until an operator resets
    it. ``max_shelve_s``: the longest a shelve may last. ``limit_from_recipe`` (``high``
    and ``low`` only): while a recipe is loaded that sets a limit for the channel (an
    oven's ``o2_limit_ppm`` for its O2 analyzer), that limit is the alarm's; ``limit`` is
    used when none is (``AlarmContext.limits``).
    """

    channel: ChannelName
    kind: AlarmKind
    limit: float | None = None
    limit_from_recipe: bool = False
    setpoint: ChannelName | None = None
    window_s: PositiveFloat | None = None
    direction: RateDirection | None = None
    bit: Annotated[int, Field(ge=0, le=63)] | None = None
    equals: float | None = None
    priority: AlarmPriority = "medium"
    deadband: NonNeg = 0.0
    on_delay_s: NonNeg = 0.0
    off_delay_s: NonNeg = 0.0
    latching: bool = False
    guidance: str = ""
    consequence: Consequence = "none"
    suppress_in: list[PackMLStateName] = Field(default_factory=list)
    max_shelve_s: PositiveFloat = DEFAULT_MAX_SHELVE_S

    @property
    def device(self) -> str:
        return self.channel.split(".", 1)[0]

    @property
    def is_comm_loss(self) -> bool:
        return self.kind == "comm_loss"

    @model_validator(mode="after")
    def _fields_of_the_kind(self) -> AlarmDefinition:
        kind = self.kind
        if kind in LIMIT_KINDS and self.limit is None:
            raise ValueError(f"a {kind} alarm needs a limit")
        if kind not in LIMIT_KINDS and self.limit is not None:
            raise ValueError(f"limit = {self.limit}: a {kind} alarm has no limit")
        only = {
            "setpoint": ("deviation", self.setpoint),
            "window_s": ("rate_of_change", self.window_s),
            "direction": ("rate_of_change", self.direction),
            "bit": ("discrete", self.bit),
            "equals": ("discrete", self.equals),
        }
        if self.limit_from_recipe and kind not in ("high", "low"):
            raise ValueError(f"limit_from_recipe: only a high or low alarm has it, not {kind}")
        for name, (owner, value) in only.items():
            if value is not None and kind != owner:
                raise ValueError(f"{name} = {value!r}: only a {owner} alarm has it, not {kind}")
        if kind == "rate_of_change" and self.window_s is None:
            raise ValueError("a rate_of_change alarm needs window_s (seconds, above 0)")
        if kind == "discrete" and (self.bit is None) == (self.equals is None):
            raise ValueError("a discrete alarm needs exactly one of bit (0-63) and equals")
        if kind in ("deviation", "rate_of_change"):
            assert self.limit is not None
            if self.limit <= 0:
                raise ValueError(f"limit = {self.limit}: a {kind} limit must be above 0")
            if self.deadband >= self.limit:
                raise ValueError(
                    f"deadband = {self.deadband}: must be below the limit ({self.limit}), "
                    "or the alarm could never clear"
                )
        if kind in ("discrete", "comm_loss") and self.deadband != 0:
            raise ValueError(f"deadband = {self.deadband}: a {kind} alarm has none (0)")
        if self.setpoint is not None and self.setpoint == self.channel:
            raise ValueError(f"setpoint = {self.setpoint!r}: the channel itself")
        dup = sorted({s for s in self.suppress_in if self.suppress_in.count(s) > 1})
        if dup:
            raise ValueError(f"suppress_in repeats {dup}")
        return self


AlarmId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+$")]


def alarm_channel_problem(
    alarms: Mapping[str, AlarmDefinition], devices: Mapping[str, DeviceConfig]
) -> str | None:
    """Whether every channel an alarm names is on the line: its device is in
    ``[devices]`` and the device's model declares the channel (and a ``bit`` the channel
    declares). None when they all are, else the first problem, naming the field and value."""
    for alarm_id, d in alarms.items():
        names = [("channel", d.channel)]
        if d.setpoint is not None:
            names.append(("setpoint", d.setpoint))
        for field, name in names:
            device, _, channel = name.partition(".")
            config = devices.get(device)
            if config is None:
                return (
                    f"alarms.{alarm_id}.{field} = {name!r}: no device {device!r} in "
                    f"[devices] (one of {', '.join(sorted(devices)) or 'none'})"
                )
            declared = {c.name: c for c in MODELS[config.model].channels}
            spec = declared.get(channel)
            if spec is None:
                return (
                    f"alarms.{alarm_id}.{field} = {name!r}: model {config.model!r} of "
                    f"{device!r} declares no channel {channel!r} (one of "
                    f"{', '.join(declared)})"
                )
            if field == "channel" and d.bit is not None and d.bit not in spec.bits:
                bits = ", ".join(f"{k} {v}" for k, v in sorted(spec.bits.items())) or "none"
                return (
                    f"alarms.{alarm_id}.bit = {d.bit}: {name} declares no bit {d.bit} "
                    f"(its bits: {bits})"
                )
    return None
