"""server, token create|ls|revoke."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated

import typer

from dockyard.cli.common import err_console, print_json, say

token_app = typer.Typer(help="API tokens for `dockyard server` (stored hashed; shown once).", no_args_is_help=True)


def server(
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to serve on.")] = "127.0.0.1:8700",
) -> None:
    """Serve the REST API (OpenAPI at /docs), webhooks, the pipeline worker and the poller.

    Example: dockyard server --listen 127.0.0.1:8700
    """
    from dockyard.server.runtime import serve

    serve(listen)


def _tokens():
    from dockyard.server.auth import TokenStore
    from dockyard.state.db import StateDB

    return TokenStore(StateDB())


@token_app.command("create")
def token_create(
    name: Annotated[str | None, typer.Option("--name", help="Who uses it (recorded as the approver).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Create a token and print it once (only its SHA-256 is kept). Example: dockyard token create --name ci"""
    from dockyard.deploy.deployer import author

    record, token = _tokens().create(name or author())
    if as_json:
        print_json({**asdict(record), "token": token})
        return
    say(token)
    err_console.print(f"token {record.id} ({record.name}): shown once; send it as Authorization: Bearer TOKEN",
                      highlight=False, markup=False)


@token_app.command("ls")
def token_ls(as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False) -> None:
    """List tokens (id, name, created; never the token). Example: dockyard token ls"""
    tokens = _tokens().all()
    if as_json:
        print_json([asdict(t) for t in tokens])
        return
    for t in tokens:
        say(f"{t.id:4}  {t.name:24} {time.strftime('%Y-%m-%d %H:%M', time.localtime(t.created_at))}")


@token_app.command("revoke")
def token_revoke(which: Annotated[str, typer.Argument(help="Token id, or a name (all its tokens).")]) -> None:
    """Revoke a token: requests with it get 401 from now on. Example: dockyard token revoke 3"""
    for t in _tokens().revoke(which):
        say(f"revoked token {t.id} ({t.name})")
