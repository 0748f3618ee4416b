"""Process-window rules: is a recipe inside the windows the seed documents establish?

Every rule is a pure function of (recipe, line, derived values) with an id, a
severity and its source (seed file and passage). Route-specific rules apply to
their route only. Equipment limits come from the line config. A violation says
which field, which value, which window and which source, in plain words.

Windows are inclusive: a value on an edge is inside. Values are compared at a
stated resolution per unit (``RESOLUTION``): a value passes when it lies inside
the window widened by half a resolution step at each edge, which is the same as
rounding it to the resolution first. So floating-point error in a computed value
or edge (30,090 kg ÷ 30.09 cm = 1000.0000000000001 kg/cm; bp - 130 with bp
202.3 °C = 72.30000000000001 °C) never rejects a value that is on the edge, and
a value beyond an edge by more than half a step fails. Every comparison is
written so that a non-finite value falls outside (``not lo - h <= v <= hi + h``).

The rules are split by source: ``structure`` (the line config and the route table),
``equipment`` (the line's limits), one module per seed (``s000`` to ``s004``) and
``practice`` (docs/process.md and line practice); ``compare`` holds the comparison
at resolution they share, ``table`` the rule table, ``engine`` the check. A rule is
registered when its module is imported; ``SOURCES`` orders the table.
"""

from linecontrol.process.rules import (
    equipment,
    practice,
    s000,
    s001,
    s002,
    s003,
    s004,
    structure,
)
from linecontrol.process.rules.compare import RESOLUTION, at_least, at_most, below, between, fmt
from linecontrol.process.rules.engine import Report, check
from linecontrol.process.rules.table import RULES, Finding, Rule, Severity, Violation, rule

# The table's order, which is the order of a report's violations: by source.
SOURCES = (structure, equipment, s000, s001, s002, s003, s004, practice)
RULES.sort(key=lambda r: [m.__name__ for m in SOURCES].index(r.fn.__module__))

__all__ = [
    "RESOLUTION",
    "RULES",
    "SOURCES",
    "Finding",
    "Report",
    "Rule",
    "Severity",
    "Violation",
    "at_least",
    "at_most",
    "below",
    "between",
    "check",
    "fmt",
    "rule",
]
