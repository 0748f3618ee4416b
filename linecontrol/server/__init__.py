"""The serve process's room: the supervised line behind the local API (issue 10):
``serve`` wires one session of the line (``linecontrol.recording.open_line``) to the
API's hub (state, control point, commands, the stream) and its HTTP server;
``serve_replay`` serves a logged run through the same API (issue 11)."""

from linecontrol.server.auth import new_token, token_hash
from linecontrol.server.http import ServeError
from linecontrol.server.replay_service import (
    ReplayOpenError,
    ReplayOptions,
    ReplayResult,
    serve_replay,
)
from linecontrol.server.service import ServeOptions, ServeResult, serve

__all__ = [
    "ReplayOpenError",
    "ReplayOptions",
    "ReplayResult",
    "ServeError",
    "ServeOptions",
    "ServeResult",
    "new_token",
    "serve",
    "serve_replay",
    "token_hash",
]
