"""`dockyard notify test|ls`: the notification channels of settings.yml, tried now, and the outbox."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from dockyard.cli.common import JsonOpt, console, print_json, result

notify_app = typer.Typer(help="Notifications (channels and routes in settings.yml): test a channel, list "
                              "the outbox.\n\nExample: dockyard notify ls", no_args_is_help=True)


@notify_app.command("test")
def test(channel: Annotated[str, typer.Argument(help="A channel of settings.yml's notifications.")],
         as_json: JsonOpt = False) -> None:
    """Send a test notification to CHANNEL now and say what its receiver answered.

    Example: dockyard notify test ops-webhook
    """
    from dockyard import settings
    from dockyard.errors import DockyardError, NotFound
    from dockyard.notify.channels import send
    from dockyard.notify.model import Event, delivery_key

    channels = settings.load().notifications.channels
    if channel not in channels:
        raise NotFound(f"no notification channel {channel!r} in {settings.settings_path()}",
                       hint=f"channels: {', '.join(channels) or 'none yet (notifications.channels)'}")
    now = time.time()
    event = Event(f"test:{now:.6f}", "test", "-", "-", f"a test notification from {settings.author()}", now)
    note = send(delivery_key(event.id, channel), channels[channel], event)  # DeliveryFailed: its message, exit 1
    if note:
        raise DockyardError(f"{channel}: delivered in part: {note}",
                            hint="fix the refused addresses in notifications.channels." + channel + ".to")
    result(as_json, {"channel": channel, "type": channels[channel].type, "delivered": True},
           f"{channel}: delivered ({channels[channel].type})")


@notify_app.command("ls")
def ls(
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The newest deliveries of the outbox: delivered, waiting for a retry, or given up.

    Example: dockyard notify ls --json
    """
    from rich.table import Table

    from dockyard.notify.store import Outbox
    from dockyard.state.db import StateDB

    db = StateDB()
    try:
        rows = Outbox(db).recent(limit)
    finally:
        db.close()
    if as_json:
        print_json([{"key": d.key, "channel": d.channel, "event": d.event.kind, "app": d.event.app,
                     "env": d.event.env, "text": d.event.text, "attempts": d.attempts, "delivered_at": d.delivered_at,
                     "given_up_at": d.given_up_at, "last_error": d.last_error} for d in rows])
        return
    table = Table("key", "channel", "state", "attempts", "text")
    for d in rows:
        state = (f"delivered ({d.last_error})" if d.delivered_at and d.last_error else
                 "delivered" if d.delivered_at else "given up" if d.given_up_at else
                 f"retrying: {d.last_error}" if d.attempts else "queued")
        table.add_row(d.key, d.channel, state, str(d.attempts), d.event.text)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add `notify`. (main.py calls it when it runs, or for --help.)"""
    app.add_typer(notify_app, name="notify")
