"""Container lifecycle events, from the engine's event stream: a container that died, was killed
for memory, was restarted or turned unhealthy, as rows of `dockyard events` beside the alerts.

Pure: `lifecycle_event(event, name, labels, was_running)` maps one container event to an AlertEvent
(started and ended at the event's time), or None for the actions that are no fault (create, a
first start, ...). A start of a container that had stopped is its restart policy at work.
"""

from __future__ import annotations

from collections.abc import Mapping

from dockyard.engine import labels as L
from dockyard.engine.facts import ContainerEvent
from dockyard.monitor.alerts import AlertEvent

# A restart is seen as the start of a stopped container (the restart policy, or `docker restart`,
# which also sends "restart" after its "start": taking that too would count one restart twice).
RULES = {"die": "container:died", "oom": "container:oom-killed", "start": "container:restarted",
         "health_status": "container:unhealthy"}


def lifecycle_event(event: ContainerEvent, name: str, labels: Mapping[str, str], was_running: bool = True
                    ) -> AlertEvent | None:
    action = event.action
    rule = RULES.get(action)
    if rule is None or (action == "health_status" and event.detail != "unhealthy") or \
            (action == "start" and was_running):
        return None
    if action == "die":
        message = f"{name} exited with code {'?' if event.exit_code is None else event.exit_code}"
    elif action == "oom":
        message = f"{name} was killed: out of memory"
    elif action == "start":
        message = f"{name} was restarted"
    else:
        message = f"{name} turned unhealthy (its image's health check)"
    at = event.time_ns / 1e9
    return AlertEvent(rule=rule, container=name, app=labels.get(L.APP, ""), env=labels.get(L.ENV, ""),
                      service=labels.get(L.SERVICE, ""), started_at=at, ended_at=at, message=message)
