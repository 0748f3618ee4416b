"""Rules from seed 002 (adhesion-enhanced polyimide film: a thin coated layer on a core)."""

from __future__ import annotations

from collections.abc import Iterator

from linecontrol.config import (
    LineConfig,
    Recipe,
)
from linecontrol.process.derive import Derived
from linecontrol.process.rules.compare import (
    between,
)
from linecontrol.process.rules.table import Finding, rule

AGENTS_002: tuple[str, ...] = ("aminosilane", "epoxysilane", "titanate")


@rule(
    "film.core_thickness",
    "error",
    "002 claim 7: the polyimide (A) core layer 10-35 µm thick",
    "one rigid low-CTE PI core layer of 10-35 µm",
    routes=("adhesion-film",),
)
def _core_002(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    cores = [(i, layer) for i, layer in enumerate(recipe.material.layers) if layer.role == "core"]
    if len(cores) != 1:
        yield Finding(
            "material.layers",
            [layer.name for _, layer in cores],
            "exactly one layer of role 'core' (the unwound film's polyimide A)",
        )
    for i, layer in cores:
        yield from between(
            f"material.layers[{i}].cured_thickness_um", layer.cured_thickness_um, 10.0, 35.0, "µm"
        )


@rule(
    "film.thin_layer",
    "error",
    "002 claims 1, 8, 10: a coated polyimide (B) thin layer 0.05-1 µm on at least one side",
    "heat-resistant PI thin layers of 0.05-1 µm, coated, at most one per side",
    routes=("adhesion-film",),
)
def _thin_002(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    thin = {layer.name for layer in recipe.material.layers if layer.role == "heat_resistant"}
    for i, layer in enumerate(recipe.material.layers):
        if layer.role == "heat_resistant":
            yield from between(
                f"material.layers[{i}].cured_thickness_um",
                layer.cured_thickness_um,
                0.05,
                1.0,
                "µm",
            )
    sides: dict[str, int] = {}
    for i, coat in enumerate(recipe.coats):
        if coat.layer not in thin:
            yield Finding(
                f"coats[{i}].layer",
                coat.layer,
                "a heat-resistant thin layer (role 'heat_resistant'): the route coats only those",
            )
            continue
        if coat.side in sides:
            yield Finding(
                f"coats[{i}].side",
                coat.side,
                f"a side without a thin layer yet (coats[{sides[coat.side]}] coats it)",
            )
        sides.setdefault(coat.side, i)
    if not sides:
        yield Finding(
            "coats", [], "at least one coat of a heat-resistant thin layer (on one or both sides)"
        )


@rule(
    "film.agent",
    "error",
    "002 claims 1, 6: the solution holds a heat-resistant surface treatment agent, "
    "an aminosilane, epoxysilane or titanate compound",
    "every thin-layer coat names its surface treatment agent",
    routes=("adhesion-film",),
)
def _agent_002(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for i, coat in enumerate(recipe.coats):
        if coat.surface_treatment_agent not in AGENTS_002:
            yield Finding(
                f"coats[{i}].surface_treatment_agent",
                coat.surface_treatment_agent,
                f"one of {list(AGENTS_002)}",
            )
