"""Rules from the line config and the route table: the recipe uses stations the line
has, of its route, and zones the ovens have; residence times follow from them."""

from __future__ import annotations

from collections.abc import Iterator

from linecontrol.config import (
    CoaterStation,
    LineConfig,
    OvenStation,
    PressStation,
    Recipe,
    RewindStation,
    SputterStation,
    UnwindStation,
)
from linecontrol.process.derive import Derived
from linecontrol.process.rules.compare import (
    fmt,
    half_step,
    oven_field,
    ovens,
)
from linecontrol.process.rules.table import Finding, rule


@rule(
    "recipe.stations",
    "error",
    "line config",
    "stations exist on the line, in web order, of the kind each section needs",
)
def _stations(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    names = [s.name for s in line.stations]
    for i, name in enumerate(recipe.recipe.stations):
        if name not in names:
            yield Finding(f"recipe.stations[{i}]", name, f"one of the line's stations {names}")
    known = [n for n in recipe.recipe.stations if n in names]
    if known != sorted(known, key=names.index):
        yield Finding(
            "recipe.stations",
            known,
            f"listed in web order ({' → '.join(n for n in names if n in known)})",
        )
    for i, name in enumerate(recipe.recipe.stations):
        st = line.station(name)
        if (
            st is not None
            and st.name not in recipe.used_stations()
            and not isinstance(st, UnwindStation | RewindStation)
        ):
            yield Finding(
                f"recipe.stations[{i}]",
                name,
                "a station the recipe gives setpoints for (no section uses it)",
            )
    want: list[tuple[str, str, type]] = []
    want += [(f"coats[{i}].station", c.station, CoaterStation) for i, c in enumerate(recipe.coats)]
    want += [(f"ovens[{i}].station", o.station, OvenStation) for i, o in enumerate(recipe.ovens)]
    if recipe.sputter:
        want.append(("sputter.station", recipe.sputter.station, SputterStation))
    if recipe.press:
        want.append(("press.station", recipe.press.station, PressStation))
    for field, name, cls in want:
        st = line.station(name)
        if st is not None and not isinstance(st, cls):
            yield Finding(
                field, name, f"a station of kind {STATION_KIND[cls]!r} (it is {st.kind!r})"
            )


STATION_KIND: dict[type, str] = {
    CoaterStation: "coater",
    OvenStation: "oven",
    SputterStation: "sputter",
    PressStation: "press",
}

ROUTE_KINDS: dict[str, set[str]] = {
    "cast-laminate": {"coater", "oven", "press"},
    "cast-laminate-tpi": {"coater", "oven", "press"},
    "sputter-fusion": {"sputter", "oven", "press"},
    "coated-resin": {"coater", "oven"},
    "adhesion-film": {"coater", "oven", "sputter"},
}

# What each route unwinds: the cast routes coat metal foil (001, 003, 004); 000
# sputters onto a laminate with a thermoplastic PI surface (a PI film, claim 4, or
# a foil-backed one, claim 2); 002 coats a self-supporting precursor film and
# completes its imidation (claim 10).
ROUTE_SUBSTRATES: dict[str, tuple[str, ...]] = {
    "cast-laminate": ("metal_foil",),
    "cast-laminate-tpi": ("metal_foil",),
    "coated-resin": ("metal_foil",),
    "sputter-fusion": ("pi_film", "metal_foil"),
    "adhesion-film": ("pi_precursor_film",),
}


@rule(
    "recipe.route",
    "error",
    "docs/process.md route table; 002 claim 10 (coat a self-supporting precursor film, then heat)",
    "a route uses only its own stations, starts from its own substrate, has its own sections",
)
def _route(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    route = recipe.recipe.route
    if recipe.material.unwound not in ROUTE_SUBSTRATES[route]:
        yield Finding(
            "material.substrate",
            recipe.material.unwound,
            f"what the route {route!r} starts from: one of {list(ROUTE_SUBSTRATES[route])}",
        )
    if route == "adhesion-film" and (not recipe.coats or not any(ovens(recipe, "cure"))):
        yield Finding(
            "recipe.route",
            route,
            "coat then heat to complete imidation: [[coats]] and a cure oven",
        )
    allowed = ROUTE_KINDS[recipe.recipe.route]
    for i, name in enumerate(recipe.recipe.stations):
        st = line.station(name)
        if st is None or isinstance(st, UnwindStation | RewindStation):
            continue
        if st.kind not in allowed:
            yield Finding(
                f"recipe.stations[{i}]",
                name,
                f"a station of the route {recipe.recipe.route!r}: kinds {sorted(allowed)}",
            )
    if recipe.recipe.route == "sputter-fusion" and (recipe.sputter is None or recipe.press is None):
        yield Finding(
            "recipe.route",
            recipe.recipe.route,
            "sputter then heat-and-press: [sputter] and [press] sections",
        )


@rule(
    "recipe.zones",
    "error",
    "line config",
    "oven zones exist and each step is laid on consistent setpoints",
)
def _zones(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for oven in recipe.ovens:
        st = line.station(oven.station)
        if not isinstance(st, OvenStation):
            continue
        line_zones = [z.name for z in st.zones]
        for sp in oven.zones:
            if sp.zone not in line_zones:
                yield Finding(
                    oven_field(oven, f"zones[{sp.zone}]"),
                    sp.zone,
                    f"one of {st.name}'s zones {line_zones}",
                )
        set_zones = {sp.zone for sp in oven.zones}
        missing = [z for z in line_zones if z not in set_zones]
        if missing:
            # The web crosses every zone of an oven it uses: each needs a setpoint.
            yield Finding(
                oven_field(oven, "zones"),
                sorted(set_zones),
                f"a setpoint for every zone the web crosses (missing {missing})",
            )
        prev_c: float | None = None
        for i, step in enumerate(oven.steps):
            idx = [line_zones.index(z) for z in step.zones if z in line_zones]
            if idx and idx != list(range(idx[0], idx[0] + len(idx))):
                yield Finding(
                    oven_field(oven, f"steps[{i}].zones"),
                    step.zones,
                    "adjacent zones in web order",
                )
            sps = [oven.zone(z) for z in step.zones]
            if step.kind == "hold":
                for hold_sp in sps:
                    if hold_sp is not None and not abs(
                        hold_sp.temperature_c - step.temperature_c
                    ) <= hold_sp.tolerance_c + half_step("°C"):
                        yield Finding(
                            oven_field(oven, f"zones[{hold_sp.zone}].temperature_c"),
                            hold_sp.temperature_c,
                            f"the hold temperature of steps[{i}] ({fmt(step.temperature_c)} °C) "
                            f"within ±{fmt(hold_sp.tolerance_c)} °C",
                        )
            else:
                temps = [sp.temperature_c for sp in sps if sp is not None]
                lo = prev_c if prev_c is not None else -273.15
                h = half_step("°C")
                if temps != sorted(temps) or not all(
                    lo - h <= t <= step.temperature_c + h for t in temps
                ):
                    yield Finding(
                        oven_field(oven, f"steps[{i}].zones"),
                        temps,
                        f"setpoints rising from {fmt(lo) if prev_c is not None else 'entry'}"
                        f" to {fmt(step.temperature_c)} °C along the ramp",
                    )
            prev_c = step.temperature_c


@rule(
    "line.residence",
    "error",
    "docs/process.md: residence = zone length ÷ line speed",
    "the line speed leaves every thermal step its required time",
)
def _residence(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for s in d.steps:
        if not (s.residence_min >= s.required_min - half_step("min")):
            yield Finding(
                "web.speed_m_min",
                recipe.web.speed_m_min,
                f"at most {fmt(s.max_speed_m_min)} m/min",
                f"ovens[{s.oven}].steps[{s.index}] needs {fmt(s.required_min)} min at "
                f"{fmt(s.temperature_c)} °C over {'+'.join(s.zones)} ({fmt(s.length_m)} m); "
                f"at this speed the web spends {fmt(s.residence_min)} min there",
            )
