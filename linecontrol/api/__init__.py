"""The local API's room: the wire protocol (pure) and the client (issue 10)."""

__all__ = []
