"""The local API's access settings: the ``[api]`` table of the line config.

Who may do what through ``linecontrol serve``'s API (docs/api.md). On the Unix socket
the caller's uid (``SO_PEERCRED``) gives the role: the uid that runs serve has
``owner_role``, a uid named in ``[api.users]`` (by user name or numeric uid) its own
role, any other local uid ``default_role``. On loopback TCP a bearer token gives it:
``[api.tokens.<name>]`` keeps only the token's SHA-256 (hex) and its role.

```toml
[api]
owner_role = "engineer"
default_role = "viewer"
[api.users]
ana = "operator"
[api.tokens.scada]
sha256 = "..."          # linecontrol api token scada --role operator
role = "operator"
```
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from linecontrol.config.tomlfile import StrictModel

RoleName = Literal["viewer", "operator", "engineer"]
"""A role of the local API, lowest first: viewer reads, operator runs, engineer sets up."""
ROLES: tuple[RoleName, ...] = ("viewer", "operator", "engineer")

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
STREAM_QUEUE_MIN = 4


class ApiToken(StrictModel):
    """A bearer token (TCP only): its SHA-256 in lowercase hex, never the token."""

    sha256: Sha256Hex
    role: RoleName


class ApiSettings(StrictModel):
    owner_role: RoleName = "engineer"
    default_role: RoleName = "viewer"
    # user name or numeric uid (as a string) -> role
    users: dict[Annotated[str, Field(min_length=1)], RoleName] = Field(default_factory=dict)
    tokens: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")], ApiToken] = Field(
        default_factory=dict
    )
    # Messages a stream client may have waiting before it is told to resync.
    stream_queue: int = Field(default=1000, ge=STREAM_QUEUE_MIN, le=1_000_000)
