"""Every rule at its edges: inside, on, and just outside its window."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linecontrol.process.rules import RESOLUTION, RULES, at_least, at_most, below, between
from tests.recipe_helpers import DELETE, line_dict, put, recipe_dict, rule_ids, run

CURE = "ovens[station=cure_oven]"
D1 = "ovens[station=dryer_1]"
PRESS_LINE = "stations[name=press]"


def cure_hold(temp: float) -> list[tuple[str, Any]]:
    """001-ex1 with its cure hold (zones C07-C10) at ``temp``."""
    edits: list[tuple[str, Any]] = [(f"{CURE}.steps[1].temperature_c", temp)]
    edits += [(f"{CURE}.zones[zone=C{i:02d}].temperature_c", temp) for i in range(7, 11)]
    return edits


# (rule id, recipe, recipe edits, line edits, expect the rule to fire)
CASES: list[tuple[str, str, list[tuple[str, Any]], list[tuple[str, Any]], bool]] = [
    # press.temp_vs_tg: Tg 300 → 330..550 (001)
    ("press.temp_vs_tg", "001-ex1", [("press.temperature_c", 400.0)], [], False),
    ("press.temp_vs_tg", "001-ex1", [("press.temperature_c", 330.0)], [], False),
    ("press.temp_vs_tg", "001-ex1", [("press.temperature_c", 329.9)], [], True),
    ("press.temp_vs_tg", "001-ex1", [("press.temperature_c", 550.0)], [], False),
    ("press.temp_vs_tg", "001-ex1", [("press.temperature_c", 550.1)], [], True),
    ("press.temp_vs_tg", "004-ex1", [("press.temperature_c", 200.0)], [], False),  # route 001 only
    # press.thermoplastic_surface
    ("press.thermoplastic_surface", "001-ex1", [("material.surface_tg_c", DELETE)], [], True),
    ("press.thermoplastic_surface", "001-ex1", [], [], False),
    ("press.thermoplastic_surface", "003-coated-resin", [], [], False),
    # press.linear_pressure: 300 mm → 150..30000 kg
    ("press.linear_pressure", "001-ex1", [("press.roll_load_kg", 150.0)], [], False),
    ("press.linear_pressure", "001-ex1", [("press.roll_load_kg", 149.9)], [], True),
    ("press.linear_pressure", "001-ex1", [("press.roll_load_kg", 30000.0)], [], False),
    ("press.linear_pressure", "001-ex1", [("press.roll_load_kg", 30000.1)], [], True),
    # press.roll_diameter: 20..500 mm (line)
    ("press.roll_diameter", "001-ex1", [], [(f"{PRESS_LINE}.roll_diameter_mm", 20.0)], False),
    ("press.roll_diameter", "001-ex1", [], [(f"{PRESS_LINE}.roll_diameter_mm", 19.9)], True),
    ("press.roll_diameter", "001-ex1", [], [(f"{PRESS_LINE}.roll_diameter_mm", 500.0)], False),
    ("press.roll_diameter", "001-ex1", [], [(f"{PRESS_LINE}.roll_diameter_mm", 500.1)], True),
    # line.speed: 0.01..20 m/min (001)
    ("line.speed", "001-ex2", [("web.speed_m_min", 0.01)], [], False),
    ("line.speed", "001-ex2", [("web.speed_m_min", 0.0099)], [], True),
    ("line.speed", "001-ex2", [("web.speed_m_min", 20.0)], [], False),
    ("line.speed", "001-ex2", [("web.speed_m_min", 20.01)], [], True),
    # equip.speed: the line's 0.05..10 m/min
    ("equip.speed", "001-ex2", [("web.speed_m_min", 0.05)], [], False),
    ("equip.speed", "001-ex2", [("web.speed_m_min", 0.049)], [], True),
    ("equip.speed", "001-ex2", [("web.speed_m_min", 10.0)], [], False),
    ("equip.speed", "001-ex2", [("web.speed_m_min", 10.01)], [], True),
    # press.temp_window_tpi: 300..350 °C, route 004 only
    ("press.temp_window_tpi", "004-ex1", [("press.temperature_c", 300.0)], [], False),
    ("press.temp_window_tpi", "004-ex1", [("press.temperature_c", 299.9)], [], True),
    ("press.temp_window_tpi", "004-ex1", [("press.temperature_c", 350.0)], [], False),
    ("press.temp_window_tpi", "004-ex1", [("press.temperature_c", 350.1)], [], True),
    ("press.temp_window_tpi", "001-ex1", [("press.temperature_c", 400.0)], [], False),
    # tpi.tg: 250..400 (001)
    (
        "tpi.tg",
        "001-ex2",
        [("material.surface_tg_c", 250.0), ("press.temperature_c", 300.0)],
        [],
        False,
    ),
    (
        "tpi.tg",
        "001-ex2",
        [("material.surface_tg_c", 249.9), ("press.temperature_c", 300.0)],
        [],
        True,
    ),
    (
        "tpi.tg",
        "001-ex2",
        [("material.surface_tg_c", 400.0), ("press.temperature_c", 440.0)],
        [],
        False,
    ),
    (
        "tpi.tg",
        "001-ex2",
        [("material.surface_tg_c", 400.1), ("press.temperature_c", 440.0)],
        [],
        True,
    ),
    # tpi.tg_004: 200..250 (004)
    ("tpi.tg_004", "004-ex1", [("material.surface_tg_c", 200.0)], [], False),
    ("tpi.tg_004", "004-ex1", [("material.surface_tg_c", 199.9)], [], True),
    ("tpi.tg_004", "004-ex1", [("material.surface_tg_c", 250.0)], [], False),
    ("tpi.tg_004", "004-ex1", [("material.surface_tg_c", 250.1)], [], True),
    # cure.temperature: peak hold 200..450 (001)
    ("cure.temperature", "001-ex1", cure_hold(450.0), [], False),
    ("cure.temperature", "001-ex1", cure_hold(450.1), [], True),
    (
        "cure.temperature",
        "001-ex1",
        [(f"{CURE}.zones[zone=C{i:02d}].temperature_c", 150.0) for i in range(1, 7)]
        + cure_hold(200.0),
        [],
        False,
    ),
    (
        "cure.temperature",
        "001-ex1",
        [(f"{CURE}.zones[zone=C{i:02d}].temperature_c", 150.0) for i in range(1, 7)]
        + cure_hold(199.9),
        [],
        True,
    ),
    # cure.temperature_003: 200..400 (003)
    ("cure.temperature_003", "003-coated-resin", [], [], False),
    (
        "cure.temperature_003",
        "003-coated-resin",
        [(f"{CURE}.steps[1].temperature_c", 400.1)]
        + [(f"{CURE}.zones[zone=C{i:02d}].temperature_c", 400.1) for i in range(4, 11)],
        [],
        True,
    ),
    # cure.atmosphere
    ("cure.atmosphere", "001-ex1", [(f"{CURE}.atmosphere", "air")], [], True),
    ("cure.atmosphere", "001-ex1", [(f"{CURE}.atmosphere", "vacuum")], [], False),
    ("cure.atmosphere", "001-ex1", [(f"{CURE}.atmosphere", "ar")], [], False),
    # dry.atmosphere (warning, 001 route)
    ("dry.atmosphere", "001-ex1", [(f"{D1}.atmosphere", "air")], [], True),
    ("dry.atmosphere", "004-ex1", [], [], False),
    # dry.below_bp: DMAc 165 °C, strictly below
    (
        "dry.below_bp",
        "001-ex1",
        [
            (f"{D1}.zones[zone=D1-1].temperature_c", 164.9),
            (f"{D1}.zones[zone=D1-2].temperature_c", 164.9),
            (f"{D1}.steps[0].temperature_c", 164.9),
        ],
        [],
        False,
    ),
    (
        "dry.below_bp",
        "001-ex1",
        [
            (f"{D1}.zones[zone=D1-1].temperature_c", 165.0),
            (f"{D1}.zones[zone=D1-2].temperature_c", 165.0),
            (f"{D1}.steps[0].temperature_c", 165.0),
        ],
        [],
        True,
    ),
    (
        "dry.below_bp",
        "001-ex1",
        [("material.solvent", DELETE), ("material.solvent_bp_c", DELETE)],
        [],
        True,
    ),
    # predry.window: NMP 202 → 72..132
    (
        "predry.window",
        "003-coated-resin",
        [(f"{D1}.zones[zone=D1-1].temperature_c", 72.0)],
        [],
        False,
    ),
    (
        "predry.window",
        "003-coated-resin",
        [(f"{D1}.zones[zone=D1-1].temperature_c", 71.9)],
        [],
        True,
    ),
    (
        "predry.window",
        "003-coated-resin",
        [(f"{D1}.zones[zone=D1-1].temperature_c", 132.0)],
        [],
        False,
    ),
    (
        "predry.window",
        "003-coated-resin",
        [(f"{D1}.zones[zone=D1-1].temperature_c", 132.1)],
        [],
        True,
    ),
    # sputter.thickness: 0.01..5 µm (000); target and rate x power ÷ speed
    ("sputter.thickness", "000-sputter-fusion", [("sputter.target_thickness_um", 5.0)], [], False),
    ("sputter.thickness", "000-sputter-fusion", [("sputter.target_thickness_um", 5.01)], [], True),
    ("sputter.thickness", "000-sputter-fusion", [("sputter.target_thickness_um", 0.01)], [], False),
    (
        "sputter.thickness",
        "000-sputter-fusion",
        [("sputter.target_thickness_um", 0.0099)],
        [],
        True,
    ),
    ("sputter.thickness", "000-sputter-fusion", [("sputter.power_kw", 0.1)], [], False),  # 0.01 µm
    ("sputter.thickness", "000-sputter-fusion", [("sputter.power_kw", 0.099)], [], True),
    ("sputter.matches_target", "000-sputter-fusion", [("sputter.power_kw", 11.0)], [], False),
    ("sputter.matches_target", "000-sputter-fusion", [("sputter.power_kw", 11.2)], [], True),
    # fuse.pressure: ≥ 1 MPa over 500 mm x 10 mm → 509.86 kg (000)
    ("fuse.pressure", "000-sputter-fusion", [("press.roll_load_kg", 510.0)], [], False),
    ("fuse.pressure", "000-sputter-fusion", [("press.roll_load_kg", 509.0)], [], True),
    (
        "fuse.pressure",
        "000-sputter-fusion",
        [],
        [(f"{PRESS_LINE}.nip_contact_width_mm", DELETE)],
        True,
    ),
    # fuse.temp_vs_tg: ≥ Tg + 30 = 270 (000)
    ("fuse.temp_vs_tg", "000-sputter-fusion", [("press.temperature_c", 270.0)], [], False),
    ("fuse.temp_vs_tg", "000-sputter-fusion", [("press.temperature_c", 269.9)], [], True),
    # o2.limit: ≤ 100 ppm, stated, with a purge flow
    ("o2.limit", "001-ex1", [(f"{CURE}.o2_limit_ppm", 100.0)], [], False),
    ("o2.limit", "001-ex1", [(f"{CURE}.o2_limit_ppm", 100.1)], [], True),
    ("o2.limit", "001-ex1", [(f"{CURE}.o2_limit_ppm", DELETE)], [], True),
    ("o2.limit", "001-ex1", [(f"{CURE}.n2_flow_slm", DELETE)], [], True),
    # coat.solids: 1..50 (001), 10..30 (004)
    ("coat.solids", "001-ex1", [("coats[0].solids_wt_pct", 50.0)], [], False),
    ("coat.solids", "001-ex1", [("coats[0].solids_wt_pct", 50.1)], [], True),
    ("coat.solids", "001-ex1", [("coats[0].solids_wt_pct", 1.0)], [], False),
    ("coat.solids", "001-ex1", [("coats[0].solids_wt_pct", 0.99)], [], True),
    ("coat.solids_004", "004-ex1", [("coats[0].solids_wt_pct", 30.0)], [], False),
    ("coat.solids_004", "004-ex1", [("coats[0].solids_wt_pct", 30.1)], [], True),
    ("coat.solids_004", "004-ex1", [("coats[0].solids_wt_pct", 10.0)], [], False),
    ("coat.solids_004", "004-ex1", [("coats[0].solids_wt_pct", 9.9)], [], True),
    # coat.layer_thickness_004: low-CTE 15..50, thermoplastic 1..5
    (
        "coat.layer_thickness_004",
        "004-ex1",
        [("material.layers[0].cured_thickness_um", 50.0)],
        [],
        False,
    ),
    (
        "coat.layer_thickness_004",
        "004-ex1",
        [("material.layers[0].cured_thickness_um", 50.1)],
        [],
        True,
    ),
    (
        "coat.layer_thickness_004",
        "004-ex1",
        [("material.layers[1].cured_thickness_um", 1.0)],
        [],
        False,
    ),
    (
        "coat.layer_thickness_004",
        "004-ex1",
        [("material.layers[1].cured_thickness_um", 0.9)],
        [],
        True,
    ),
    # coat.matches_target: ±10 % of the target cured thickness
    ("coat.matches_target", "001-ex1", [("coats[0].flow_ml_min", 13.257 * 1.09)], [], False),
    ("coat.matches_target", "001-ex1", [("coats[0].flow_ml_min", 13.257 * 1.11)], [], True),
    # line.residence: the cure ramp (12 m, 60 min) allows 0.2 m/min
    ("line.residence", "001-ex1", [("web.speed_m_min", 0.2)], [], False),
    ("line.residence", "001-ex1", [("web.speed_m_min", 0.201)], [], True),
    # equipment limits
    ("equip.tension", "001-ex1", [("web.unwind_tension_n", 400.0)], [], False),
    ("equip.tension", "001-ex1", [("web.unwind_tension_n", 400.1)], [], True),
    ("equip.tension", "001-ex1", [("web.rewind_tension_n", 400.1)], [], True),
    ("equip.oven", "001-ex1", cure_hold(450.0), [], False),
    ("equip.oven", "001-ex1", cure_hold(450.5), [], True),
    ("equip.oven", "001-ex1", [(f"{CURE}.n2_flow_slm", 500.1)], [], True),
    (
        "equip.oven",
        "001-ex1",
        [],
        [
            ("stations[name=dryer_1].inert_capable", False),
            ("stations[name=dryer_1].max_n2_flow_slm", DELETE),
        ],
        True,
    ),
    ("equip.coater", "001-ex1", [("coats[0].width_mm", 300.1)], [], True),  # wider than the web
    ("equip.coater", "001-ex1", [("coats[0].flow_ml_min", 500.1)], [], True),
    ("equip.coater", "001-ex1", [("coats[0].flow_ml_min", 500.0)], [], False),
    ("equip.sputter", "000-sputter-fusion", [("sputter.power_kw", 20.0)], [], False),
    ("equip.sputter", "000-sputter-fusion", [("sputter.power_kw", 20.1)], [], True),
    ("equip.sputter", "000-sputter-fusion", [("sputter.ar_flow_sccm", 500.1)], [], True),
    ("equip.press", "001-ex2", [("press.roll_load_kg", 40000.0)], [], False),
    ("equip.press", "001-ex2", [("press.roll_load_kg", 40000.1)], [], True),
    ("equip.press", "001-ex2", [("press.temperature_c", 450.1)], [], True),
    ("equip.press", "001-ex2", [("web.width_mm", 1000.1)], [], True),
    # structure: stations, route, zones
    (
        "recipe.stations",
        "001-ex2",
        [("recipe.stations", ["unwind", "nip", "rewind"]), ("press.station", "nip")],
        [],
        True,
    ),
    ("recipe.stations", "001-ex2", [("recipe.stations", ["press", "unwind", "rewind"])], [], True),
    (
        "recipe.stations",
        "001-ex2",
        [("recipe.stations", ["unwind", "sputter", "press", "rewind"])],
        [],
        True,
    ),
    (
        "recipe.stations",
        "001-ex2",
        [("recipe.stations", ["unwind", "coater_1", "rewind"]), ("press.station", "coater_1")],
        [],
        True,
    ),
    ("recipe.route", "001-ex1", [("recipe.route", "coated-resin")], [], True),
    (
        "recipe.route",
        "000-sputter-fusion",
        [("sputter", DELETE), ("recipe.stations", ["unwind", "press", "rewind"])],
        [],
        True,
    ),
    (
        "recipe.zones",
        "001-ex1",
        [
            ("ovens[station=dryer_2].steps[0].zones", ["D2-1"]),
            ("ovens[station=dryer_2].zones[zone=D2-2].zone", "D9-9"),
        ],
        [],
        True,
    ),
    ("recipe.zones", "001-ex1", [(f"{CURE}.zones[zone=C09].temperature_c", 340.0)], [], True),
    ("recipe.zones", "001-ex1", [(f"{CURE}.zones[zone=C02].temperature_c", 100.0)], [], True),
    ("recipe.zones", "001-ex1", [(f"{CURE}.steps[1].zones", ["C07", "C09", "C10"])], [], True),
    # recipe.zones at the °C resolution: 350.3 - 350 is 0.30000000000001 in binary
    (
        "recipe.zones",
        "001-ex1",
        [
            (f"{CURE}.zones[zone=C08].temperature_c", 350.3),
            (f"{CURE}.zones[zone=C08].tolerance_c", 0.3),
        ],
        [],
        False,
    ),
    (
        "recipe.zones",
        "001-ex1",
        [
            (f"{CURE}.zones[zone=C08].temperature_c", 350.31),
            (f"{CURE}.zones[zone=C08].tolerance_c", 0.3),
        ],
        [],
        True,
    ),
    # recipe.route: the route's substrate, and 002's coat-then-cure
    ("recipe.route", "002-adhesion-film", [], [], False),
    ("recipe.route", "002-adhesion-film", [("material.substrate", "metal_foil")], [], True),
    (
        "recipe.route",
        "001-ex1",
        [("material.foil_thickness_um", DELETE), ("material.substrate", "pi_film")],
        [],
        True,
    ),
    ("recipe.route", "002-adhesion-film", [(f"{CURE}.purpose", "dry")], [], True),
    # dry.window: 60..200 °C (001 route only)
    ("dry.window", "001-ex1", [(f"{D1}.zones[zone=D1-1].temperature_c", 60.0)], [], False),
    ("dry.window", "001-ex1", [(f"{D1}.zones[zone=D1-1].temperature_c", 59.9)], [], True),
    ("dry.window", "001-ex1", [(f"{D1}.zones[zone=D1-1].temperature_c", 200.0)], [], False),
    ("dry.window", "001-ex1", [(f"{D1}.zones[zone=D1-1].temperature_c", 200.1)], [], True),
    ("dry.window", "004-ex1", [(f"{D1}.zones[zone=D1-1].temperature_c", 50.0)], [], False),
    # cure.temperature_preferred: preferably 300..430 °C (001), a warning
    ("cure.temperature_preferred", "001-ex1", cure_hold(300.0), [], False),
    ("cure.temperature_preferred", "001-ex1", cure_hold(299.9), [], True),
    ("cure.temperature_preferred", "001-ex1", cure_hold(430.0), [], False),
    ("cure.temperature_preferred", "001-ex1", cure_hold(430.1), [], True),
    # material.foil_thickness: 5..1000 µm (001 route only)
    ("material.foil_thickness", "001-ex1", [("material.foil_thickness_um", 5.0)], [], False),
    ("material.foil_thickness", "001-ex1", [("material.foil_thickness_um", 4.99)], [], True),
    ("material.foil_thickness", "001-ex1", [("material.foil_thickness_um", 1000.0)], [], False),
    ("material.foil_thickness", "001-ex1", [("material.foil_thickness_um", 1000.1)], [], True),
    ("material.foil_thickness", "004-ex1", [("material.foil_thickness_um", 2.0)], [], False),
    # film.total_thickness: the PI layers add up to 1..500 µm (001: 24 + 6)
    (
        "film.total_thickness",
        "001-ex1",
        [("material.layers[0].cured_thickness_um", 494.0)],
        [],
        False,
    ),
    (
        "film.total_thickness",
        "001-ex1",
        [("material.layers[0].cured_thickness_um", 494.1)],
        [],
        True,
    ),
    (
        "film.total_thickness",
        "001-ex1",
        [
            ("material.layers[0].cured_thickness_um", 0.5),
            ("material.layers[1].cured_thickness_um", 0.5),
        ],
        [],
        False,
    ),
    (
        "film.total_thickness",
        "001-ex1",
        [
            ("material.layers[0].cured_thickness_um", 0.5),
            ("material.layers[1].cured_thickness_um", 0.499),
        ],
        [],
        True,
    ),
    # heat_treat.time: 1..30 h at 200-400 °C, as stated and as the web gets it (003)
    ("heat_treat.time", "003-coated-resin", [], [], False),  # stated 60 min: on the edge
    ("heat_treat.time", "003-coated-resin", [(f"{CURE}.steps[1].time_min", 59.99)], [], True),
    ("heat_treat.time", "003-coated-resin", [(f"{CURE}.steps[1].time_min", 1800.0)], [], False),
    ("heat_treat.time", "003-coated-resin", [(f"{CURE}.steps[1].time_min", 1800.1)], [], True),
    ("heat_treat.time", "003-coated-resin", [("web.speed_m_min", 0.008)], [], False),  # 29.2 h
    ("heat_treat.time", "003-coated-resin", [("web.speed_m_min", 0.007)], [], True),  # 33.3 h
    # a hold on the 400 °C edge counts as heat treatment; one above it does not
    (
        "heat_treat.time",
        "003-coated-resin",
        [(f"{CURE}.steps[1].temperature_c", 400.004)],
        [],
        False,
    ),
    ("heat_treat.time", "003-coated-resin", [(f"{CURE}.steps[1].temperature_c", 400.1)], [], True),
    # equip.unwind: the unwind is fitted for the recipe's substrate
    ("equip.unwind", "002-adhesion-film", [], [], False),
    (
        "equip.unwind",
        "002-adhesion-film",
        [],
        [("stations[name=unwind].materials", ["metal_foil"])],
        True,
    ),
    ("equip.unwind", "001-ex1", [], [("stations[name=unwind].materials", ["metal_foil"])], False),
    (
        "equip.unwind",
        "000-sputter-fusion",
        [],
        [("stations[name=unwind].materials", ["metal_foil"])],
        True,
    ),
    # equip.coater: the coated side
    ("equip.coater", "002-adhesion-film", [], [("stations[name=coater_3].sides", ["front"])], True),
    # film.core_thickness: 10..35 µm (002 claim 7)
    (
        "film.core_thickness",
        "002-adhesion-film",
        [("material.layers[0].cured_thickness_um", 10.0)],
        [],
        False,
    ),
    (
        "film.core_thickness",
        "002-adhesion-film",
        [("material.layers[0].cured_thickness_um", 9.99)],
        [],
        True,
    ),
    (
        "film.core_thickness",
        "002-adhesion-film",
        [("material.layers[0].cured_thickness_um", 35.0)],
        [],
        False,
    ),
    (
        "film.core_thickness",
        "002-adhesion-film",
        [("material.layers[0].cured_thickness_um", 35.01)],
        [],
        True,
    ),
    (
        "film.core_thickness",
        "002-adhesion-film",
        [("material.layers[0].role", "low_cte")],
        [],
        True,
    ),
    # film.thin_layer: 0.05..1 µm (002 claim 8), coated, one per side
    (
        "film.thin_layer",
        "002-adhesion-film",
        [("material.layers[1].cured_thickness_um", 0.05)],
        [],
        False,
    ),
    (
        "film.thin_layer",
        "002-adhesion-film",
        [("material.layers[1].cured_thickness_um", 0.0499)],
        [],
        True,
    ),
    (
        "film.thin_layer",
        "002-adhesion-film",
        [("material.layers[1].cured_thickness_um", 1.0)],
        [],
        False,
    ),
    (
        "film.thin_layer",
        "002-adhesion-film",
        [("material.layers[1].cured_thickness_um", 1.001)],
        [],
        True,
    ),
    ("film.thin_layer", "002-adhesion-film", [("coats[1].side", "front")], [], True),
    ("film.thin_layer", "002-adhesion-film", [("coats[1].layer", "core")], [], True),
    ("film.thin_layer", "002-thick-layer", [], [], True),
    # film.agent: aminosilane, epoxysilane or titanate (002 claim 6)
    (
        "film.agent",
        "002-adhesion-film",
        [("coats[0].surface_treatment_agent", "epoxysilane")],
        [],
        False,
    ),
    (
        "film.agent",
        "002-adhesion-film",
        [("coats[0].surface_treatment_agent", "titanate")],
        [],
        False,
    ),
    (
        "film.agent",
        "002-adhesion-film",
        [("coats[0].surface_treatment_agent", "silicone")],
        [],
        True,
    ),
    ("film.agent", "002-adhesion-film", [("coats[1].surface_treatment_agent", DELETE)], [], True),
]


def _case_id(case: tuple[str, str, list[Any], list[Any], bool]) -> str:
    rule, recipe, edits, ledits, fires = case
    what = ",".join(
        f"{p.split('.')[-1]}={v if v is not DELETE else 'del'}" for p, v in edits + ledits
    )
    return f"{rule}|{recipe}|{what}|{'fires' if fires else 'quiet'}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_rule_edges(
    case: tuple[str, str, list[tuple[str, Any]], list[tuple[str, Any]], bool],
) -> None:
    rule, name, edits, line_edits, fires = case
    recipe = recipe_dict(name)
    for path, value in edits:
        recipe = put(recipe, path, value)
    line = line_dict()
    for path, value in line_edits:
        line = put(line, path, value)
    report = run(recipe, line)
    assert (rule in rule_ids(report)) is fires, [v.message for v in report.violations]


def test_every_rule_has_edge_cases() -> None:
    tested_fire = {c[0] for c in CASES if c[4]}
    tested_quiet = {c[0] for c in CASES if not c[4]}
    ids = {r.id for r in RULES}
    assert ids - tested_fire == set(), "rules with no case that makes them fire"
    assert (
        ids - tested_quiet - {"recipe.stations", "recipe.route", "recipe.zones", "equip.tension"}
        <= set()
    )


def test_process_table_rules_are_implemented() -> None:
    # The table of PROCESS.md "Process windows", one id each (tpi.tg split by route).
    table = {
        "press.temp_vs_tg",
        "press.linear_pressure",
        "press.roll_diameter",
        "line.speed",
        "press.temp_window_tpi",
        "cure.temperature",
        "cure.atmosphere",
        "dry.below_bp",
        "predry.window",
        "sputter.thickness",
        "fuse.pressure",
        "tpi.tg",
        "tpi.tg_004",
        "o2.limit",
        "dry.window",
        "heat_treat.time",
        "film.core_thickness",
        "film.thin_layer",
    }
    assert table <= {r.id for r in RULES}


def test_every_rule_cites_a_source_and_has_a_unique_id() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    for r in RULES:
        assert r.source.strip(), r.id
        assert r.severity in ("error", "warning")


def test_violation_names_field_value_window_and_source() -> None:
    report = run(put(recipe_dict("001-ex1"), "press.temperature_c", 280.0))
    [v] = [v for v in report.violations if v.rule == "press.temp_vs_tg"]
    assert v.message == (
        "press.temperature_c = 280: must be between Tg + 30 = 330 and Tg + 250 = 550 °C "
        "(001, heated roll press paragraph: about 30 to 250 °C higher than Tg)"
    )
    assert (v.field, v.value, v.severity) == ("press.temperature_c", 280.0, "error")


def test_too_fast_names_the_zone_and_the_maximum_speed() -> None:
    report = run(put(recipe_dict("004-ex1"), "web.speed_m_min", 0.6))
    msgs = [v.message for v in report.violations if v.rule == "line.residence"]
    assert any(
        "at most 0.5 m/min" in m and "C01+C02+C03+C04+C05" in m and "180 °C" in m for m in msgs
    ), msgs
    assert report.derived.max_speed_m_min == pytest.approx(0.5)


def test_derived_values_001_table1() -> None:
    # Table 1: 1,500 kg over 300 mm = 50 kg/cm; 30,800 kg over 800 mm = 385 kg/cm.
    d1 = run(recipe_dict("001-ex1")).derived
    assert d1.linear_pressure_kg_cm == pytest.approx(50.0)
    assert d1.linear_pressure_n_mm == pytest.approx(50.0 * 0.980665)
    assert d1.areal_pressure_mpa == pytest.approx(1500 * 9.80665 / (300 * 10))
    assert run(recipe_dict("001-ex3")).derived.linear_pressure_kg_cm == pytest.approx(385.0)
    assert run(recipe_dict("001-ex2")).derived.linear_pressure_kg_cm == pytest.approx(70.0)
    # residence at 0.2 m/min in a 2 m zone is 10 min
    assert all(z.residence_min == pytest.approx(10.0) for z in d1.zones)
    cure_ramp = next(s for s in d1.steps if s.oven == "cure_oven" and s.kind == "ramp")
    assert cure_ramp.max_speed_m_min == pytest.approx(0.2)
    coat = d1.coats[0]
    assert coat.wet_um == pytest.approx(13.257 / (30 * 20) * 1e4)
    assert coat.cured_estimate_um == pytest.approx(24.0, rel=1e-3)


def test_derived_sputter_thickness() -> None:
    d = run(recipe_dict("000-sputter-fusion")).derived
    assert d.sputter_thickness_um == pytest.approx(1.0)  # 100 x 10 ÷ 1 nm
    assert d.areal_pressure_mpa == pytest.approx(1000 * 9.80665 / 5000)


# ---------------------------------------------------------------- values exactly on an edge
# Each of these is on its edge in decimal arithmetic but lands a hair outside in
# binary floating point; a comparison without a stated resolution rejected them.


def test_linear_pressure_exactly_1000_kg_cm_passes() -> None:
    # 30,090 kg over 300.9 mm = 1000 kg/cm; in floats 1000.0000000000001.
    d = put(put(recipe_dict("001-ex2"), "press.roll_load_kg", 30090.0), "web.width_mm", 300.9)
    report = run(d)
    assert report.derived.linear_pressure_kg_cm is not None
    assert report.derived.linear_pressure_kg_cm > 1000.0  # the float error is really there
    assert "press.linear_pressure" not in rule_ids(report), [v.message for v in report.violations]
    # 0.1 kg/cm beyond the edge fails, and the message shows the value beyond it.
    report = run(
        put(put(recipe_dict("001-ex2"), "press.roll_load_kg", 30093.0), "web.width_mm", 300.9)
    )
    [v] = [v for v in report.violations if v.rule == "press.linear_pressure"]
    assert "gives 1000.1 kg/cm" in v.message, v.message


def test_predry_exactly_bp_minus_130_passes() -> None:
    # NMP at 202.3 °C: bp - 130 = 72.3 °C; in floats 72.30000000000001.
    d = put(recipe_dict("003-coated-resin"), "material.solvent_bp_c", 202.3)
    d = put(d, f"{D1}.zones[zone=D1-1].temperature_c", 72.3)
    assert 202.3 - 130.0 > 72.3
    assert "predry.window" not in rule_ids(run(d))
    report = run(put(d, f"{D1}.zones[zone=D1-1].temperature_c", 72.29))
    [v] = [v for v in report.violations if v.rule == "predry.window"]
    assert v.message.startswith(
        "ovens[dryer_1].zones[D1-1].temperature_c = 72.29: must be between bp - 130 = 72.3 and"
    ), v.message


def test_sputtered_copper_exactly_5_um_passes() -> None:
    # 100 nm·m/min per kW x 8.8 kW ÷ 0.176 m/min = 5 µm; in floats 5.000000000000001.
    d = put(recipe_dict("000-sputter-fusion"), "sputter.power_kw", 8.8)
    d = put(put(d, "web.speed_m_min", 0.176), "sputter.target_thickness_um", 5.0)
    report = run(d)
    assert report.derived.sputter_thickness_um is not None
    assert report.derived.sputter_thickness_um > 5.0
    assert "sputter.thickness" not in rule_ids(report), [v.message for v in report.violations]
    assert "sputter.thickness" in rule_ids(run(put(d, "sputter.power_kw", 8.801)))


def test_residence_exactly_the_required_time_passes() -> None:
    # 003's heat-treatment hold crosses 7 zones (14 m): at 0.14 m/min that is 100 min;
    # in floats 99.99999999999999.
    d = put(recipe_dict("003-coated-resin"), "web.speed_m_min", 0.14)
    d = put(d, f"{CURE}.steps[0].time_min", 40.0)
    d = put(d, f"{CURE}.steps[1].time_min", 100.0)
    report = run(d)
    [hold] = [s for s in report.derived.steps if s.oven == "cure_oven" and s.index == 1]
    assert hold.residence_min < 100.0
    assert "line.residence" not in rule_ids(report), [v.message for v in report.violations]
    assert "line.residence" in rule_ids(run(put(d, f"{CURE}.steps[1].time_min", 100.002)))


@given(
    unit=st.sampled_from(sorted(RESOLUTION)),
    lo=st.floats(min_value=-1e4, max_value=1e4),
    width=st.floats(min_value=0.0, max_value=1e4),
    k=st.integers(min_value=1, max_value=49),
)
def test_edges_pass_and_a_step_beyond_fails_at_every_resolution(
    unit: str, lo: float, width: float, k: int
) -> None:
    res = RESOLUTION[unit]
    hi = lo + width
    # On an edge, also when the edge or the value carries floating-point error.
    for v in (lo, hi, lo * (1 - 1e-15), hi * (1 + 1e-15), (hi * k) / k, (lo / k) * k):
        assert not list(between("f", v, lo, hi, unit)), (v, lo, hi)
    assert not list(at_least("f", lo * (1 - 1e-15), lo, unit))
    assert not list(at_most("f", hi * (1 + 1e-15), hi, unit))
    # One resolution step beyond an edge fails.
    assert list(between("f", hi + res, lo, hi, unit))
    assert list(between("f", lo - res, lo, hi, unit))
    assert list(at_least("f", lo - res, lo, unit))
    assert list(at_most("f", hi + res, hi, unit))
    assert list(below("f", hi, hi, unit)) and not list(below("f", hi - res, hi, unit))
    # Non-finite values never pass.
    for v in (math.nan, math.inf, -math.inf):
        assert list(between("f", v, lo, hi, unit))
        assert list(at_most("f", v, hi, unit)) or v == -math.inf
        assert list(at_least("f", v, lo, unit)) or v == math.inf
        assert list(below("f", v, hi, unit)) or v == -math.inf
    assert list(at_most("f", math.nan, hi, unit)) and list(at_least("f", math.nan, lo, unit))


def test_every_document_a_rule_cites_is_in_the_repository() -> None:
    # Sources are shown to the user with every violation: a file they name must be one a
    # clone has (PROCESS.md is not; docs/process.md is).
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cited = {m for r in RULES for m in re.findall(r"[\w./-]+\.md\b", r.source)}
    assert cited, "no rule cites a document: the test would prove nothing"
    assert {c for c in cited if not (root / c).is_file()} == set()
