"""An in-test plant for the pure supervisor core, shared by its unit tests.

``Plant`` is every channel of the line as a value: the core's writes land at once and
its process values move to their setpoints (or not, when a test says so); ``Run`` steps
the core and the plant together and keeps every event. Used by
``tests/unit/test_supervisor_core.py`` (the table-driven sequence and interlocks) and
``tests/unit/test_supervisor_stateful.py`` (hypothesis over random commands and faults).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from linecontrol.acquisition import device_channels
from linecontrol.config import DEFAULT_LINE, RECIPES, LineConfig, load_line, load_recipe
from linecontrol.model import Event, LoadRecipe, Quality, Reset, Sample, Start
from linecontrol.supervisor import core as sup
from linecontrol.supervisor.plan import build_plan

E = TypeVar("E", bound=Event)
LINE = load_line(DEFAULT_LINE)
RECIPE = RECIPES / "001-ex1.toml"
DRIVE_BITS = {"running": 0, "at_speed": 1, "web_break": 2, "drive_fault": 3, "estop": 4}
PRESS_BITS = {"nip_closed": 0, "overload": 1}


@dataclass
class Plant:
    """Every channel of the line as a value; the writes land at once."""

    line: LineConfig
    values: dict[str, float] = field(default_factory=dict)
    bad: set[str] = field(default_factory=set)  # channels read STALE
    follow: bool = True  # process values go to their setpoints each step
    refuse: set[str] = field(default_factory=set)  # channels whose writes fail
    flags: dict[str, int] = field(default_factory=dict)  # extra status bits per device
    down: set[str] = field(default_factory=set)  # devices away: read STALE, writes time out
    pinned: dict[str, float] = field(default_factory=dict)  # values physics does not move
    silent: dict[str, float] = field(default_factory=dict)  # device -> its last answer

    def __post_init__(self) -> None:
        self.names = [c.name for n, d in self.line.devices.items() for c in device_channels(n, d)]
        self.index = {n: i for i, n in enumerate(self.names)}
        for n in self.names:
            self.values.setdefault(n, 0.0)
        for n, d in self.line.devices.items():
            if d.model == "oven_zone":
                self.values[f"{n}.temp_pv_c"] = 25.0
            if d.model == "o2_analyzer":
                self.values[f"{n}.o2_ppm"] = 209_000.0
        self.values["sputter_gauge.pressure_pa"] = 1e-4

    def sample(self, now: float) -> Sample:
        vals = np.array([self.values[n] for n in self.names], float)
        q = np.array(
            [
                Quality.STALE if n in self.bad or n.split(".", 1)[0] in self.down else Quality.GOOD
                for n in self.names
            ],
            np.uint8,
        )
        answered = np.array([self.silent.get(n.split(".", 1)[0], now) for n in self.names])
        return Sample(now, self.index, vals, q, self.values["drive.web_position_m"], answered)

    def act(self, actions: Iterable[sup.Action]) -> list[sup.Input]:
        out: list[sup.Input] = []
        for a in actions:
            writes = a.writes if isinstance(a, sup.ApplySafeState) else (a,)
            failed = set()
            for w in writes:
                if w.channel in self.refuse or w.device in self.down:
                    why = "timeout" if w.device in self.down else "refused"
                    out.append(sup.WriteFailed(w.channel, w.value, why))
                    failed.add(w.device)
                    continue
                self.values[w.channel] = w.value
                out.append(sup.WriteDone(w.channel, w.value, w.value))
            if isinstance(a, sup.ApplySafeState):
                devs = sorted({w.device for w in writes})
                ok = tuple(d for d in devs if d not in failed)
                out.append(sup.SafeStateDone(a.why, ok, tuple(sorted(failed))))
        return out

    def physics(self, dt: float) -> None:
        v = self.values
        run = v["drive.run_cmd"] == 1.0
        if self.follow:
            for n, d in self.line.devices.items():
                if d.model == "oven_zone":
                    v[f"{n}.temp_pv_c"] = v[f"{n}.temp_sp_c"]
                    v[f"{n}.working_sp_c"] = v[f"{n}.temp_sp_c"]
                if d.model == "n2_mfc":
                    v[f"{n}.flow_pv_slm"] = v[f"{n}.flow_sp_slm"]
                if d.model == "coater":
                    on = v[f"{n}.pump_run_cmd"] == 1.0
                    v[f"{n}.flow_pv_ml_min"] = v[f"{n}.flow_sp_ml_min"] if on else 0.0
            v["press.top_temp_pv_c"] = v["press.top_temp_sp_c"]
            v["press.bottom_temp_pv_c"] = v["press.bottom_temp_sp_c"]
            nip = v["press.nip_cmd"] == 1.0
            v["press.roll_load_pv_kg"] = v["press.roll_load_sp_kg"] if nip else 0.0
            v["drive.speed_pv_m_min"] = v["drive.speed_sp_m_min"] if run else 0.0
            v["drive.unwind_tension_pv_n"] = v["drive.unwind_tension_sp_n"] if run else 0.0
            v["drive.rewind_tension_pv_n"] = v["drive.rewind_tension_sp_n"] if run else 0.0
            if v["n2_cure_oven.flow_sp_slm"] > 0:
                v["o2_cure.o2_ppm"] = 20.0
        v.update(self.pinned)
        v["drive.web_position_m"] += v["drive.speed_pv_m_min"] * dt / 60.0
        bits = sum(1 << b for f, b in DRIVE_BITS.items() if self.flags.get(f"drive.{f}"))
        v["drive.status"] = float(bits)
        nip_bit = 1 if v["press.nip_cmd"] == 1.0 else 0
        over = 2 if self.flags.get("press.overload") else 0
        v["press.status"] = float(nip_bit | over)


@dataclass
class Run:
    """The core and the plant, stepped together; every event kept."""

    plant: Plant
    core: sup.Core
    now: float = 0.0
    dt: float = 5.0
    events: list[Event] = field(default_factory=list)
    pending: list[sup.Input] = field(default_factory=list)

    @classmethod
    def boot(cls, *, clean: bool = True, row_s: float = 0.0) -> Run:
        core, events = sup.boot(LINE, 0.0, clean=clean, row_s=row_s)
        r = cls(Plant(LINE), core)
        r.events += events
        return r

    @property
    def state(self) -> str:
        return self.core.machine.state.label

    def step(self, *inputs: sup.Input) -> tuple[Event, ...]:
        self.now += self.dt
        self.plant.physics(self.dt)
        self.core, actions, events = sup.step(
            self.core, self.now, self.plant.sample(self.now), [*self.pending, *inputs]
        )
        self.pending = self.plant.act(actions)
        self.events += events
        return events

    def until(self, state: str, limit: int = 20_000) -> None:
        for _ in range(limit):
            if self.state == state:
                return
            self.step()
        raise AssertionError(
            f"not in {state} after {limit} steps: {self.state} {self.core.waiting_for}"
        )

    def loaded(self) -> Run:
        recipe = load_recipe(RECIPE)
        plan = build_plan(recipe, LINE, source_text=RECIPE.read_text(encoding="utf-8"))
        cmd = LoadRecipe(by="ana", request_id="load-1", path=str(RECIPE))
        self.step(sup.RecipeReady(cmd, plan))
        return self

    def executing(self) -> Run:
        self.loaded()
        self.step(Reset(by="ana", request_id="r1"))
        self.until("Idle")
        self.step(Start(by="ana", request_id="s1"))
        self.until("Execute")
        return self

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]
