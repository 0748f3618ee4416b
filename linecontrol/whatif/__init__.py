"""What-if: a logged run's samples and operator actions through the pure alarm engine
again, with other alarm definitions or recipe windows, on a virtual clock; the alarm
journals compared and their EEMUA 191 measures; and alarm-rule tests in the style of
promtool's (``ruletest``). ``core`` is pure, ``load`` reads a run directory.
Other rooms import from ``linecontrol.whatif``, not its modules."""

from linecontrol.whatif.core import (
    Comparison,
    Flood,
    Logged,
    Measures,
    Moved,
    Result,
    Rows,
    Standing,
    Transition,
    compare,
    evaluate,
    measures,
    with_recipe,
)
from linecontrol.whatif.load import LoadedRun, load_alarms, load_recipe_windows, load_run
from linecontrol.whatif.ruletest import Outcome, Suite, load_tests, parse_series, run_case

__all__ = [
    "Comparison",
    "Flood",
    "LoadedRun",
    "Logged",
    "Measures",
    "Moved",
    "Outcome",
    "Result",
    "Rows",
    "Standing",
    "Suite",
    "Transition",
    "compare",
    "evaluate",
    "load_alarms",
    "load_recipe_windows",
    "load_run",
    "load_tests",
    "measures",
    "parse_series",
    "run_case",
    "with_recipe",
]
