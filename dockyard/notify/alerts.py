"""The agent's alert events as notifications (pure): an event that began is `alert.firing`, one that
ended is `alert.resolved`, each with an id made from its rule, container and start, so reading the
agent's recent events again and again queues each once. Events from before `since` (the server's
start, less a minute) are history, not news."""

from __future__ import annotations

from typing import Any

from dockyard.notify.model import Event


def alert_events(rows: list[dict[str, Any]], since: float) -> list[Event]:
    events = []
    for row in rows:
        if not row.get("app") or not row.get("env"):
            continue  # a container Dockyard does not deploy
        base = f"alert:{row['app']}:{row['env']}:{row['rule']}:{row['container']}:{row['started_at']:.3f}"
        data = {"rule": row["rule"], "container": row["container"], "service": row.get("service"),
                "host": row.get("host"), "message": row["message"]}
        if row["started_at"] >= since:
            events.append(Event(f"{base}:firing", "alert.firing", row["app"], row["env"],
                                f"FIRING {row['rule']} on {row['container']}: {row['message']}", row["started_at"],
                                data, row["started_at"]))
        ended = row.get("ended_at")
        if ended is not None and ended >= since:
            events.append(Event(f"{base}:resolved", "alert.resolved", row["app"], row["env"],
                                f"resolved {row['rule']} on {row['container']}", ended, data,
                                row["started_at"]))
    return events
