"""``linecontrol api``: the local API's schema, and bearer tokens for its TCP port."""

from __future__ import annotations

import argparse
import json
import re
import sys

from linecontrol.cli.options import require_command
from linecontrol.cli.output import EXIT_BAD_INPUT, EXIT_OK, error

ROLES = ("viewer", "operator", "engineer")
TOKEN_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("api", help="the local API: its JSON schema, bearer tokens")
    cmds = p.add_subparsers(dest="api_command", metavar="COMMAND")
    require_command(p, cmds)
    s = cmds.add_parser(
        "schema",
        help="print the API's versioned JSON schema (commands, events, stream messages)",
        description="The JSON schema of the local API (docs/api.md), generated from the "
        "model's registries: the same document GET /v1/schema serves.",
    )
    s.set_defaults(func=schema)
    t = cmds.add_parser(
        "token",
        help="make a bearer token for the API's loopback TCP port",
        description="Print a fresh token (give it to the client) and the TOML lines to "
        "paste into the line config: only the token's SHA-256 is kept there.",
    )
    t.add_argument("name", metavar="NAME", help="the token's name (its user in the run log)")
    t.add_argument("--role", choices=ROLES, required=True, help="the role the token gives")
    t.set_defaults(func=token)


def schema(args: argparse.Namespace) -> int:
    from linecontrol.api import api_schema

    json.dump(api_schema(), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
    return EXIT_OK


def token(args: argparse.Namespace) -> int:
    from linecontrol.server import new_token

    if not TOKEN_NAME.match(args.name):
        error(f"token name {args.name!r}: 1 to 64 characters of A-Z a-z 0-9 . _ - are needed")
        return EXIT_BAD_INPUT
    secret, digest = new_token()
    print(f"token: {secret}")
    print("# paste into the line config; the token itself is kept nowhere:")
    print(f"[api.tokens.{args.name}]")
    print(f'sha256 = "{digest}"')
    print(f'role = "{args.role}"')
    return EXIT_OK
