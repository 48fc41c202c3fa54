"""Emitting an event: queue it in the outbox for every channel its routes name. Emitting never fails
what emitted it (a run, a deploy): a problem is logged, the work goes on."""

from __future__ import annotations

import logging
import time
from typing import Any

from dockyard import settings
from dockyard.errors import DockyardError
from dockyard.notify.model import Event, channels_for
from dockyard.notify.store import Outbox
from dockyard.state.db import StateDB

log = logging.getLogger("dockyard.notify")


def emit(db: StateDB, event_id: str, kind: str, app: str, env: str, text: str, **data: Any) -> None:
    emit_event(db, Event(event_id, kind, app, env, text, time.time(), data))


def emit_event(db: StateDB, event: Event) -> None:
    try:
        channels = channels_for(settings.load().notifications, event)
        if channels:
            Outbox(db).enqueue(event, channels)
    except DockyardError as exc:
        log.warning("notification %s not queued: %s", event.id, exc.message)
