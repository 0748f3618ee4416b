"""The serve process's room: the supervised line behind the local API (issue 10):
``serve`` wires one session of the line (``linecontrol.recording.open_line``) to the
API's hub (state, control point, commands, the stream) and its HTTP server."""

from linecontrol.server.auth import new_token, token_hash
from linecontrol.server.http import ServeError
from linecontrol.server.service import ServeOptions, ServeResult, serve

__all__ = ["ServeError", "ServeOptions", "ServeResult", "new_token", "serve", "token_hash"]
