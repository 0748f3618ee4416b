"""Run reports: what a logged run did to its product, metre by metre.

``figures`` (pure) computes the report from loaded data: every critical parameter put
on product metres with its station's transport delay, time and metres in the control
band and in the seed's process window (``windows``, pure: found with the process
rules), the longest excursions, capability over segment means, stops, operator
actions, the recipe's hash and rule check, fitness for use; and one metre's trace.
``load`` reads a run directory for it, ``render`` draws and writes it (HTML, PDF).
Other rooms import from ``linecontrol.report``, not its modules."""

from linecontrol.report.figures import (
    REFERENCE,
    Report,
    ReportInputError,
    RunData,
    Trace,
    compute,
    trace,
)
from linecontrol.report.load import load_run
from linecontrol.report.render import render_html, render_pdf, strip_charts, tables, trace_text
from linecontrol.report.windows import Window, process_windows

__all__ = [
    "REFERENCE",
    "Report",
    "ReportInputError",
    "RunData",
    "Trace",
    "Window",
    "compute",
    "load_run",
    "process_windows",
    "render_html",
    "render_pdf",
    "strip_charts",
    "tables",
    "trace",
    "trace_text",
]
