"""Who is calling: the peer's uid on the Unix socket (``SO_PEERCRED``), a bearer token
on loopback TCP, each mapped to a role by the line config's ``[api]`` table."""

from __future__ import annotations

import hashlib
import hmac
import os
import pwd
import secrets
import socket
import struct

from linecontrol import api as p
from linecontrol.config import ApiSettings


class Unauthorized(p.ApiError):
    """No valid bearer token on TCP (401)."""

    status = 401
    code = "unauthorized"


def peer_credentials(sock: socket.socket) -> tuple[int, int]:
    """``(pid, uid)`` of the process at the other end of a Unix socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", raw)
    return pid, uid


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def role_of_uid(settings: ApiSettings, uid: int, owner_uid: int | None = None) -> p.Role:
    """The role of a local uid: the owner's (the uid that runs serve), one named in
    ``[api.users]`` (by name, then by number), else the default role."""
    if uid == (os.getuid() if owner_uid is None else owner_uid):
        return settings.owner_role
    name = user_name(uid)
    role = settings.users.get(name) or settings.users.get(str(uid))
    return role or settings.default_role


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh bearer token and its SHA-256 hex (what the config keeps)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def role_of_token(settings: ApiSettings, header: str | None) -> tuple[str, p.Role]:
    """``(token name, role)`` of an ``Authorization: Bearer ...`` header;
    ``Unauthorized`` for none or an unknown token (compared in constant time)."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is needed on TCP: Authorization: Bearer <token>")
    digest = token_hash(token.strip())
    for name, entry in settings.tokens.items():
        if hmac.compare_digest(digest, entry.sha256):
            return name, entry.role
    raise Unauthorized("unknown bearer token")
