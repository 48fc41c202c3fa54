"""Notification events, their routes and what a receiver gets (pure).

An event has a stable id made from what it is about (`run:12:failed`, `release:shop:production:41`),
so the same fact emitted twice (a worker that restarted) is one event. Each (event, channel) is
one delivery whose key, `EVENT_ID/CHANNEL`, the receiver sees as `Idempotency-Key` (e-mail: the
Message-ID): a delivery retried after a crash carries the same key, and the receiver can drop it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from dockyard.settings_model import RouteSettings


MAX_BACKOFF = 300.0


@dataclass(frozen=True)
class Event:
    id: str
    kind: str  # one of settings.NOTIFY_EVENTS
    app: str
    env: str
    text: str  # one line a person reads
    at: float
    data: dict[str, Any] = field(default_factory=dict)
    began_at: float | None = None  # when what it tells of began (an alert's start); not in the receiver's body


def _matches(patterns: list[str], value: str) -> bool:
    return "*" in patterns or value in patterns


@dataclass(frozen=True)
class Route:
    """A route of settings.yml's notifications, as its checked copy holds it (settings.notification_routes)."""

    channel: str
    apps: list[str]
    envs: list[str]
    events: list[str]


def route_matches(route: RouteSettings | Route, event: Event) -> bool:
    return (_matches(route.apps, event.app) and _matches(route.envs, event.env)
            and _matches(route.events, event.kind))


def channels_for(routes: Sequence[RouteSettings | Route], event: Event) -> list[str]:
    """The channels the event goes to, each once, in the order of the routes."""
    return list(dict.fromkeys(r.channel for r in routes if route_matches(r, event)))


def delivery_key(event_id: str, channel: str) -> str:
    return f"{event_id}/{channel}"


def body(key: str, event: Event) -> bytes:
    """The webhook's JSON body."""
    return orjson.dumps({"id": key, "event": event.kind, "app": event.app, "env": event.env, "text": event.text,
                         "at": event.at, "data": event.data}, option=orjson.OPT_SORT_KEYS)


def slack_body(event: Event) -> bytes:
    return orjson.dumps({"text": f"[dockyard] {event.text}"})


def signature(secret: bytes, payload: bytes) -> str:
    """`sha256=HEX`: HMAC-SHA256 of the body with the channel's key (X-Dockyard-Signature)."""
    return "sha256=" + hmac.new(secret, payload, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: 1, 2, 4, ... up to 5 minutes."""
    return min(MAX_BACKOFF, 2.0 ** max(0, attempts - 1))
