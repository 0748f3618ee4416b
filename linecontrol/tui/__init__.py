"""The operator's terminal UI: a client of the local API and nothing else (issue 10)."""

from linecontrol.tui.app import LineApp

__all__ = ["LineApp"]
