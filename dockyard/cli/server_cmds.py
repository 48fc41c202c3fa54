"""server, token create|ls|revoke."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from dockyard.cli.common import JsonOpt, err_console, print_json, result, say

token_app = typer.Typer(help="API tokens for `dockyard server` (stored hashed; shown once).", no_args_is_help=True)


def server(
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to serve on.")] = "127.0.0.1:8700",
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="Serve HTTPS with this certificate.")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="The certificate's key.")] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Listen off loopback without TLS.")] = False,
) -> None:
    """Serve the REST API (OpenAPI at /docs), webhooks, the pipeline worker and the poller.

    Example: dockyard server --listen 127.0.0.1:8700
    Example: dockyard server --listen 0.0.0.0:8443 --tls-cert server.pem --tls-key server-key.pem
    """
    from dockyard.errors import UsageError
    from dockyard.server.runtime import serve

    if bool(tls_cert) != bool(tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    for flag, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
        if path is not None and not path.is_file():
            raise UsageError(f"{flag} {path}: no such file")
    serve(listen, tls=(str(tls_cert), str(tls_key)) if tls_cert and tls_key else None, insecure=insecure)


def _tokens():
    from dockyard.server.auth import TokenStore
    from dockyard.state.db import StateDB

    return TokenStore(StateDB())


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option("--name", help="Who uses it; unique (recorded as the approver, the author).")],
    scope: Annotated[list[str], typer.Option(
        "--scope", help="read, trigger, approve, deploy (narrowed by --env), admin; repeat for several.")],
    env: Annotated[list[str] | None, typer.Option("--env", help="The environments a deploy scope covers.")] = None,
    app: Annotated[list[str] | None, typer.Option("--app", help="The only apps it reaches (A or A,B; repeat); "
                                                             "default every app.")] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="Lifetime: 30d, 12h, 90m, 2w or never.")] = "90d",
    as_json: JsonOpt = False,
) -> None:
    """Create a token and print it once (only its SHA-256 is kept).

    Example: dockyard token create --name ci --scope trigger --scope deploy --env staging --app shop --expires 30d
    """
    from dockyard.server.auth import parse_expiry, parse_scopes

    scopes = parse_scopes(scope, env or [])
    record, token = _tokens().create(name, scopes, parse_expiry(expires, time.time()), apps=app or [])
    if as_json:
        print_json({**token_json(record), "token": token})
        return
    say(token)
    until = _when(record.expires_at) if record.expires_at else "never"
    err_console.print(f"token {record.id} ({record.name}, {' '.join(record.scopes)}, expires {until}): shown once; "
                      "send it as Authorization: Bearer TOKEN", highlight=False, markup=False)


def token_json(t: Any) -> dict[str, Any]:
    """A token's record (never the token) in the JSON vocabulary (docs/json/token.schema.json)."""
    from dockyard.vocabulary import rfc3339

    return {"token_id": t.id, "name": t.name, "scopes": list(t.scopes), "apps": list(t.apps) or None,
            "created_at": rfc3339(t.created_at),
            "expires_at": rfc3339(t.expires_at), "last_used_at": rfc3339(t.last_used_at)}


def _when(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(at)) if at else "-"


@token_app.command("ls")
def token_ls(as_json: JsonOpt = False) -> None:
    """List tokens: id, name, scopes, created, expires, last used; never the token. Example: dockyard token ls"""
    tokens = _tokens().all()
    if as_json:
        print_json([token_json(t) for t in tokens])
        return
    say(f"{'ID':>4}  {'NAME':24} {'SCOPES':32} {'APPS':20} {'CREATED':16}  {'EXPIRES':16}  LAST USED")
    for t in tokens:
        say(f"{t.id:4}  {t.name:24} {' '.join(t.scopes):32} {','.join(t.apps) or 'every app':20} "
            f"{_when(t.created_at):16}  "
            f"{_when(t.expires_at) if t.expires_at else 'never':16}  {_when(t.last_used_at)}")


@token_app.command("revoke")
def token_revoke(which: Annotated[str, typer.Argument(help="Token id, or its name.")], as_json: JsonOpt = False
                 ) -> None:
    """Revoke a token: requests with it get 401 from now on. Example: dockyard token revoke 3"""
    gone = _tokens().revoke(which)
    result(as_json, [token_json(t) for t in gone], *[f"revoked token {t.id} ({t.name})" for t in gone])


def register(app: typer.Typer) -> None:
    """Add server and the token group. (main.py calls it when one of them runs, or for --help.)"""
    app.command()(server)
    app.add_typer(token_app, name="token")
