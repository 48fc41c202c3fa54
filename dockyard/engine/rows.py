"""One row of what runs, a container or a Swarm task, as `ps`, the planners and resume read it."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.errors import NotFound
from dockyard.plan.deploy import Observed

__all__ = ["Running", "pick_replica"]


@dataclass(frozen=True)
class Running(Observed):
    env: str = ""
    app: str = ""
    state: str = ""
    url: str | None = None
    commit: str | None = None
    node: str = ""  # the Swarm node a task runs on
    color: str | None = None  # blue | green in a blue-green environment
    probe: str = ""  # the L.HEALTH label: how its own release judges its health ("" on older replicas)
    engine_health: str | None = None  # the engine's verdict on a health command: healthy, unhealthy, starting
    restarting: bool = False


def pick_replica(rows: list[Running], where: str, service: str, live_release: str | None,
                 color: str | None = None, replica: int | None = None) -> Running:
    """Pure: the running replica troubleshooting goes to: of the live release (where the traffic
    goes) unless a colour is asked for; the asked replica, else the first. One that is asked for
    and not there is an error, never another one."""
    mine = sorted((r for r in rows if r.service == service and r.running), key=lambda r: (r.replica, r.name))
    if not mine:
        raise NotFound(f"no running container of {where}/{service}", hint=f"dockyard ps {where.split('/')[-1]}")
    if color is not None:
        mine = [r for r in mine if r.color == color]
        if not mine:
            raise NotFound(f"no running {service} replica on {color} in {where}")
    elif live_release is not None:
        mine = [r for r in mine if r.release == live_release] or mine
    if replica is not None:
        found = [r for r in mine if r.replica == replica]
        if not found:
            there = ", ".join(str(r.replica) for r in mine)
            raise NotFound(f"{where}/{service} has no running replica {replica}"
                           + (f" on {color}" if color else "") + f" (running: {there})")
        return found[0]
    return mine[0]
