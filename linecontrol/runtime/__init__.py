"""The runtime room: what a process of the application needs around its work: the
clock (injected time), logging set-up, child processes and soft-real-time settings.
Other rooms import from ``linecontrol.runtime``, not its modules."""

from linecontrol.runtime.children import (
    ChildGone,
    ChildNoAnswer,
    ChildRefused,
    ChildRequestError,
    ChildRequests,
    clear_faults,
    inject_faults,
    start_child,
    stop_child,
    stop_signals,
)
from linecontrol.runtime.clock import (
    SPEEDUP_MAX,
    Clock,
    ClockError,
    ManualClock,
    ScaledClock,
    SystemClock,
)
from linecontrol.runtime.logs import DEFAULT_LEVEL as DEFAULT_LOG_LEVEL
from linecontrol.runtime.logs import FORMAT as LOG_FORMAT
from linecontrol.runtime.logs import LEVELS as LOG_LEVELS
from linecontrol.runtime.logs import ContextLogger, add_log_options, configured, context_logger
from linecontrol.runtime.settings import settle_runtime

__all__ = [
    "DEFAULT_LOG_LEVEL",
    "LOG_FORMAT",
    "LOG_LEVELS",
    "SPEEDUP_MAX",
    "ChildGone",
    "ChildNoAnswer",
    "ChildRefused",
    "ChildRequestError",
    "ChildRequests",
    "Clock",
    "ClockError",
    "ContextLogger",
    "ManualClock",
    "ScaledClock",
    "SystemClock",
    "add_log_options",
    "clear_faults",
    "configured",
    "context_logger",
    "inject_faults",
    "settle_runtime",
    "start_child",
    "stop_child",
    "stop_signals",
]
