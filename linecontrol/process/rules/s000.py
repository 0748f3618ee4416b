"""Rules from seed 000 (sputtered conductor on a thermoplastic polyimide, fused under
pressure)."""

from __future__ import annotations

from collections.abc import Iterator

from linecontrol.config import (
    LineConfig,
    Recipe,
)
from linecontrol.process.derive import Derived
from linecontrol.process.rules.compare import (
    at_least,
    between,
    fmt_q,
)
from linecontrol.process.rules.table import Finding, rule


@rule(
    "fuse.temp_vs_tg",
    "error",
    "000 claim 7 (Tg + 30 °C or more) and claim 6 (50 °C or higher)",
    "fusion temperature at least Tg + 30 °C and 50 °C",
    routes=("sputter-fusion",),
)
def _fuse_tg(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    tg = recipe.material.surface_tg_c
    if recipe.press is None or tg is None:
        return
    lo = max(tg + 30.0, 50.0)
    yield from at_least(
        "press.temperature_c",
        recipe.press.temperature_c,
        lo,
        "°C",
        "Tg + 30" if tg + 30.0 >= 50.0 else "claim 6 minimum",
    )


@rule(
    "sputter.thickness",
    "error",
    "000 claim 5: conductor layer 0.01 to 5 µm",
    "dry-plated conductor 0.01-5 µm",
)
def _sputter_thickness(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    if recipe.sputter is None:
        return
    yield from between(
        "sputter.target_thickness_um", recipe.sputter.target_thickness_um, 0.01, 5.0, "µm"
    )
    if d.sputter_thickness_um is not None:
        for f in between("sputter.power_kw", d.sputter_thickness_um, 0.01, 5.0, "µm"):
            yield Finding(
                f.field,
                recipe.sputter.power_kw,
                f"a deposited thickness (rate x power ÷ speed) {f.window}",
                f"gives {fmt_q(d.sputter_thickness_um, 'µm')} µm",
            )


@rule(
    "fuse.pressure",
    "error",
    "000 claim 9: pressure at the pressurizing 1 MPa or more",
    "fusion under at least 1 MPa",
    routes=("sputter-fusion",),
)
def _fuse_pressure(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    if recipe.press is None:
        return
    if d.areal_pressure_mpa is None:
        yield Finding(
            "line: press nip_contact_width_mm",
            None,
            "the nip contact width, to turn roll load into MPa",
        )
        return
    for f in at_least("press.roll_load_kg", d.areal_pressure_mpa, 1.0, "MPa"):
        yield Finding(
            f.field,
            recipe.press.roll_load_kg,
            f"an areal nip pressure {f.window}",
            f"gives {fmt_q(d.areal_pressure_mpa, 'MPa')} MPa",
        )
