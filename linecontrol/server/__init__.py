"""The serve process's room: the supervised line behind the local API (issue 10)."""

__all__ = []
