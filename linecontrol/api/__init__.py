"""The local API's room: the wire protocol (pure) and the client (issue 10)."""

from linecontrol.api.client import (
    Address,
    ApiClient,
    ApiUnreachable,
    CommandResult,
    parse_address,
)
from linecontrol.api.view import HEARTBEAT_LOST_S, LineView, Sample

__all__ = [
    "HEARTBEAT_LOST_S",
    "Address",
    "ApiClient",
    "ApiUnreachable",
    "CommandResult",
    "LineView",
    "Sample",
    "parse_address",
]
