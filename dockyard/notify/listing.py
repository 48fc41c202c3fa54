"""The alert listing of `dockyard events` and the dashboard, from the one outbox: the alerts the
server took from the host's agent and the edge's certificate problems, each as the agent's
/api/events row (rule, container, app, env, service, host, started_at, ended_at, message; the
schema docs/json/events.schema.json), merged with what the agent answers live, newest first."""

from __future__ import annotations

from typing import Any

from dockyard.notify.store import Events, Recorded
from dockyard.state.db import StateDB

ALERT_KINDS = ("alert.firing", "alert.resolved")
ONE_OFF_KINDS = ("edge.certificate",)  # began and ended in the same moment
LISTED = (*ALERT_KINDS, *ONE_OFF_KINDS)


def _identity(row: dict[str, Any]) -> tuple[str, str, float]:
    """An alert is one (rule, container, start): the agent's key, at the alert ids' precision."""
    return row["rule"], row["container"], round(float(row["started_at"]), 3)


def alert_rows(recorded: list[Recorded]) -> list[dict[str, Any]]:
    """Each alert once (its firing and its resolution are two events), newest start first."""
    rows: dict[tuple[str, str, float], dict[str, Any]] = {}
    for item in recorded:
        event, data = item.event, item.event.data
        started = event.at if event.began_at is None else event.began_at
        row = {"rule": data.get("rule", ""), "container": data.get("container", ""), "app": event.app,
               "env": event.env, "service": data.get("service"), "host": data.get("host") or item.host,
               "started_at": started, "ended_at": None if event.kind == "alert.firing" else event.at,
               "message": data.get("message", event.text)}
        seen = rows.setdefault(_identity(row), row)
        if seen["ended_at"] is None:
            seen["ended_at"] = row["ended_at"]
    return sorted(rows.values(), key=lambda r: -r["started_at"])


def merge(recorded: list[dict[str, Any]], live: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The agent's rows and the recorded ones, each alert once (the agent's, which is newer), newest
    first, at most `limit`."""
    rows = {_identity(r): r for r in recorded}
    rows.update((_identity(r), r) for r in live)
    return sorted(rows.values(), key=lambda r: -r["started_at"])[:limit]


def recorded_alerts(db: StateDB, app: str | None = None, env: str | None = None,
                    limit: int = 100) -> list[dict[str, Any]]:
    """The outbox's alerts and certificate problems as listing rows (a firing and its end: twice the events)."""
    return alert_rows(Events(db).recent(LISTED, app, env, 2 * limit))[:limit]
