"""The process room: pure functions of a recipe and a line: derived values,
material tracking (which metre is where), the recipe bindings (which channel sets
and reads each recipe field) and the process-window rules (``rules``).
No I/O. Other rooms import from ``linecontrol.process``, not its modules."""

from linecontrol.process.bindings import (
    Binding,
    BindingError,
    Ramp,
    RecipeBindings,
    Unbound,
    UnboundField,
    bind,
)
from linecontrol.process.derive import Derived, derive, linear_pressure_kg_cm
from linecontrol.process.recipe_report import (
    report_json,
    report_text,
    violation_text,
    with_run_end,
)
from linecontrol.process.rules import Report, Violation, check
from linecontrol.process.tracking import metre_at_station, when_metre_at_station

__all__ = [
    "Binding",
    "BindingError",
    "Derived",
    "Ramp",
    "RecipeBindings",
    "Report",
    "Unbound",
    "UnboundField",
    "Violation",
    "bind",
    "check",
    "derive",
    "linear_pressure_kg_cm",
    "metre_at_station",
    "report_json",
    "report_text",
    "violation_text",
    "when_metre_at_station",
    "with_run_end",
]
