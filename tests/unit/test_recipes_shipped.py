"""Every shipped recipe against the embedded line, with the verdict its seed gives."""

from __future__ import annotations

import pytest

from linecontrol.config import CONFIGS, DEFAULT_LINE, RECIPES, load_line, load_recipe
from linecontrol.process import check

# recipe → the error rules it must violate (empty: it must pass without errors)
EXPECTED: dict[str, set[str]] = {
    "001-ex1": set(),
    "001-ex2": set(),
    "001-ex3": set(),
    "001-ex4": set(),
    "001-comp1": {"press.temp_vs_tg"},
    "001-comp2": {"press.thermoplastic_surface", "equip.press"},
    "004-ex1": set(),
    "004-ex14": set(),
    "000-sputter-fusion": set(),
    "002-adhesion-film": set(),
    "002-thick-layer": {"film.thin_layer"},
    "003-coated-resin": set(),
}


def test_every_shipped_recipe_has_an_expected_verdict() -> None:
    assert {p.stem for p in RECIPES.glob("*.toml")} == set(EXPECTED)


@pytest.mark.parametrize(
    "line_file", [DEFAULT_LINE, CONFIGS / "line.toml"], ids=["line.sim", "line"]
)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_recipe_verdict(name: str, line_file: object) -> None:
    report = check(load_recipe(RECIPES / f"{name}.toml"), load_line(line_file))  # type: ignore[arg-type]
    assert {v.rule for v in report.errors} == EXPECTED[name], [v.message for v in report.errors]
    assert report.ok is (not EXPECTED[name])
    # The valid ones run at their seed speeds without warnings either.
    if not EXPECTED[name]:
        assert report.warnings == [], [v.message for v in report.warnings]


def test_seed_speeds_fit_the_embedded_ovens() -> None:
    line = load_line(DEFAULT_LINE)
    for name, speed in {
        "001-ex1": 0.2,
        "004-ex1": 0.5,
        "004-ex14": 0.2,
        "002-adhesion-film": 1.0,
    }.items():
        report = check(load_recipe(RECIPES / f"{name}.toml"), line)
        assert report.derived.speed_m_min == speed
        assert report.derived.max_speed_m_min is not None
        assert report.derived.max_speed_m_min >= speed


def test_the_002_film_route_on_the_embedded_line() -> None:
    # Both sides coated (front at coater_1, back at coater_3), cured, then sputtered.
    report = check(load_recipe(RECIPES / "002-adhesion-film.toml"), load_line(DEFAULT_LINE))
    assert report.recipe.material.unwound == "pi_precursor_film"
    assert [(c.station, c.side) for c in report.recipe.coats] == [
        ("coater_1", "front"),
        ("coater_3", "back"),
    ]
    assert [c.cured_estimate_um for c in report.derived.coats] == [
        pytest.approx(0.5, rel=1e-3),
        pytest.approx(0.5, rel=1e-3),
    ]
    assert report.derived.sputter_thickness_um == pytest.approx(0.2)
