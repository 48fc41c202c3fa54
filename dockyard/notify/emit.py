"""Emitting an event: recorded once in the outbox's events, and queued for every channel its routes
name. Emitting never fails what emitted it (a run, a deploy): a problem is logged, the work goes on."""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

from dockyard import settings
from dockyard.errors import DockyardError
from dockyard.notify.alerts import alert_events
from dockyard.notify.model import Event, Route, channels_for
from dockyard.notify.store import Events, Outbox
from dockyard.state.db import StateDB

log = logging.getLogger("dockyard.notify")


def emit(db: StateDB, event_id: str, kind: str, app: str, env: str, text: str, **data: Any) -> None:
    emit_event(db, Event(event_id, kind, app, env, text, time.time(), data))


def emit_event(db: StateDB, event: Event, host: str = "") -> bool:
    """Record the event and queue its deliveries; True when it was new to the outbox."""
    new = record(db, event, host)
    try:
        # the routes from the settings file's checked copy: a rollback does not load pydantic to send one
        channels = channels_for([Route(**fields) for fields in settings.notification_routes()], event)
        if channels:
            Outbox(db).enqueue(event, channels)
    except DockyardError as exc:
        log.warning("notification %s not queued: %s", event.id, exc.message)
    return new


def record(db: StateDB, event: Event, host: str = "") -> bool:
    """The event in the outbox's events only (a kind no route may name, e.g. `edge.certificate`);
    False when it was there already or could not be written (logged)."""
    try:
        return Events(db).append(event, host)
    except (DockyardError, sqlite3.Error) as exc:
        log.warning("event %s not recorded: %s", event.id, exc)
        return False


def take_alerts(db: StateDB, rows: list[dict[str, Any]], since: float) -> int:
    """The host agent's alert events (its /api/events rows) into the outbox, each once however often
    it is read, and to the channels of their routes; returns how many were new."""
    return sum(emit_event(db, event, str(event.data.get("host") or "")) for event in alert_events(rows, since))
