"""The operator's terminal UI: a client of the local API and nothing else (issue 10)."""

__all__ = []
