"""One row of what runs, a container or a Swarm task, as `ps`, the planners and resume read it."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.engine import labels as L
from dockyard.engine.facts import ReplicaFacts
from dockyard.engine.swarm_facts import NodeFact, ServiceFact, TaskFact, task_url
from dockyard.errors import NotFound
from dockyard.plan.deploy import Observed

__all__ = ["Running", "Scope", "container_row", "pick_replica", "select_replicas", "task_rows",
           "troubleshoot_scope"]


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


def container_row(container: ReplicaFacts) -> Running:
    """Pure: a container as one row."""
    labels = container.labels
    return Running(
        id=container.id, name=container.name, service=labels.get(L.SERVICE, ""),
        replica=int(labels.get(L.REPLICA, "0") or 0), config_hash=labels.get(L.CONFIG_HASH, ""),
        release=labels.get(L.RELEASE, ""), running=container.status == "running", env=labels.get(L.ENV, ""),
        app=labels.get(L.APP, ""), state=container.status, url=container.url, commit=labels.get(L.COMMIT),
        color=labels.get(L.COLOR), probe=labels.get(L.HEALTH, ""), engine_health=container.health,
        restarting=container.restarting)


def task_rows(found: list[ServiceFact], task_list: list[TaskFact], node_map: dict[str, NodeFact]) -> list[Running]:
    """Pure: the tasks meant to run, as container-like rows (name = the task container's name)."""
    by_id = {s.id: s for s in found}
    rows = []
    for task in task_list:
        service = by_id.get(task.service_id)
        if service is None or task.desired != "running":
            continue
        rows.append(Running(
            id=task.container_id or task.id, name=f"{service.name}.{task.slot}.{task.id}",
            service=service.service, replica=task.slot, config_hash=task.config_hash, release=task.release,
            running=task.state == "running", env=service.env, app=service.app, state=task.state,
            url=task_url(task, service.port, node_map), commit=service.commit, node=task.node_id,
            color=service.color))
    return sorted(rows, key=lambda r: (r.env, r.service, r.replica, r.name))


@dataclass(frozen=True)
class Scope:
    """What `logs` and `stats` show of an environment: one release's containers (gone ones too, for
    logs) and its accessories (which have no release), or these containers; None is no limit.
    `said` tells the user which was chosen."""

    release: str | None = None
    names: frozenset[str] | None = None
    said: str = ""

    def admits(self, release: str, name: str) -> bool:
        if self.names is not None:
            return name in self.names
        return self.release in (None, release) or not release  # an accessory's lines have no release


def select_replicas(rows: list[Running], where: str, service: str | None, live_release: str | None,
                    color: str | None = None, replica: int | None = None, running_only: bool = True
                    ) -> list[Running]:
    """Pure: the replicas troubleshooting goes to: those of the live release (where the traffic
    goes) unless a colour is asked for, and only the asked replica if one is. One that is asked for
    and not there is an error, never another one."""
    mine = sorted((r for r in rows if service in (None, r.service) and (r.running or not running_only)),
                  key=lambda r: (r.service, r.replica, r.name))
    what, running = (f"{where}/{service}" if service else where), ("running " if running_only else "")
    if not mine:
        raise NotFound(f"no {running}container of {what}", hint=f"dockyard ps {where.split('/')[-1]}")
    if color is not None:
        mine = [r for r in mine if r.color == color]
        if not mine:
            raise NotFound(" ".join(f"no {running}{service or ''} replica on {color} in {where}".split()))
    elif live_release is not None:
        mine = [r for r in mine if r.release == live_release] or mine
    if replica is not None:
        found = [r for r in mine if r.replica == replica]
        if not found:
            there = ", ".join(str(n) for n in sorted({r.replica for r in mine}))
            raise NotFound(f"{what} has no {running}replica {replica}" + (f" on {color}" if color else "")
                           + f" ({running.strip() or 'replicas'}: {there})")
        return found
    return mine


def pick_replica(rows: list[Running], where: str, service: str, live_release: str | None,
                 color: str | None = None, replica: int | None = None) -> Running:
    """Pure: the one running replica `exec` goes to: the asked one, else the first of the live release."""
    return select_replicas(rows, where, service, live_release, color, replica)[0]


def troubleshoot_scope(rows: list[Running], where: str, service: str | None, live_release: str | None,
                       color: str | None = None, replica: int | None = None, release: str | None = None
                       ) -> Scope:
    """Pure: what `logs ENV` and `stats ENV` show: the live release unless `--release` names one (or
    `all`); `--color` or `--replica` narrow it to those containers, which must exist."""
    if color is not None or replica is not None:
        chosen = select_replicas(rows, where, service, None if release == "all" else release or live_release,
                                 color, replica, running_only=False)
        names = frozenset(r.name for r in chosen)
        return Scope(names=names, said=", ".join(sorted(names)))
    if release == "all" or (release is None and live_release is None):
        return Scope(said="every release")
    chosen_release = release or live_release
    return Scope(release=chosen_release,
                 said=f"release {chosen_release}" + (" (live)" if chosen_release == live_release else ""))
