"""What the autoscaler looks at: the replicas that serve a service now, and their samples.

Queries against the engine and the agent, and pure parsers of what they return. The replicas
that count are the running containers of the live colour in a blue-green environment, every
running container of the service otherwise, and the running tasks of a Swarm service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dockyard.engine import labels as L
from dockyard.engine.facts import ReplicaFacts
from dockyard.engine.interface import Engine
from dockyard.engine.placement import CONTAINERS, SWARM, placement
from dockyard.router.counter import read_request_counter
from dockyard.router.nginx import NginxRouter
from dockyard.router.switch import Balancer
from dockyard.scale.policy import Reading, Replica
from dockyard.spec import AppSpec


@dataclass(frozen=True)
class Serving:
    """One replica that serves: what the executor removes and the policy averages over."""

    id: str
    name: str
    replica: int
    started_at: float
    cpus: float | None  # its limit, from the engine (the live release's, not today's dockyard.yml)
    config_hash: str
    release: str
    color: str | None = None

    def as_policy(self) -> Replica:
        return Replica(self.name, self.started_at)


def parse_time(text: str | None) -> float:
    """Docker's RFC 3339 time with nanoseconds -> epoch seconds (0.0 when absent)."""
    if not text or text.startswith("0001-"):
        return 0.0
    head, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.fromisoformat(head + "+00:00").timestamp()
    return stamp + (float("0." + frac[:6]) if frac else 0.0)


def to_serving(facts: ReplicaFacts) -> Serving:
    labels = facts.labels
    return Serving(id=facts.id, name=facts.name, replica=int(labels.get(L.REPLICA) or 0),
                   started_at=parse_time(facts.started_at), cpus=facts.nano_cpus / 1e9 if facts.nano_cpus else None,
                   config_hash=labels.get(L.CONFIG_HASH, ""), release=labels.get(L.RELEASE, ""),
                   color=labels.get(L.COLOR))


def live_color(balancer: Balancer) -> str | None:
    state = balancer.current()
    return state.live.color if state and state.live else None


def request_counter(app: str, env: str) -> tuple[float, int] | None:
    """The environment's balancer's request counter now, if it runs."""
    router = NginxRouter(app, env)
    state = router.current()
    if state is None or router.pid() is None:
        return None
    return read_request_counter(state.preview_port)


ANY_COLOR = "*"  # a canary environment's replicas serve whatever their colour


def serving(engine: Engine, spec: AppSpec, env: str, service: str, balancer: Balancer | None = None
            ) -> list[Serving]:
    """The running replicas of `service` that take traffic (containers, or Swarm tasks); in a
    blue-green environment those of the colour its balancer (nginx unless given) serves live; in a
    canary environment those of any colour (one, once a rollout ended; a scale waits for its end)."""
    env_spec = spec.environment(env)
    color = None
    if env_spec.switching.colors and env_spec.router:
        color = live_color(balancer or NginxRouter(spec.app, env))
    elif env_spec.switching.canary:
        color = ANY_COLOR
    return SERVING[placement(engine).kind](engine, spec.app, env, service, color)


def container_serving(engine: Engine, app: str, env: str, service: str, color: str | None = None) -> list[Serving]:
    """The running containers of the service (of the live colour in a blue-green environment)."""
    found = engine.list_replicas(app, env, service, all=False)
    rows = [to_serving(c) for c in found if c.status == "running" and color in (ANY_COLOR, c.labels.get(L.COLOR))]
    return sorted(rows, key=lambda r: r.replica)


def swarm_serving(engine: Engine, app: str, env: str, service: str, color: str | None = None) -> list[Serving]:
    """The running tasks of the service (of the live colour's service in a blue-green environment)."""
    found = [s for s in engine.services(app, env) if s.service == service and s.color == color]
    rows = []
    for task in engine.tasks([s.id for s in found]):
        if task.desired == "running" and task.state == "running":
            name = f"{found[0].name}.{task.slot}.{task.id}"
            rows.append(Serving(id=task.container_id, name=name, replica=task.slot, started_at=parse_time(
                task.created), cpus=None, config_hash=task.config_hash, release=task.release))
    return sorted(rows, key=lambda r: r.replica)


# engine/placement.py's kind -> how its serving replicas are read
SERVING: dict[str, Callable[[Engine, str, str, str, str | None], list[Serving]]] = {
    CONTAINERS.kind: container_serving, SWARM.kind: swarm_serving}


def readings(samples: list[dict[str, Any]], replicas: list[Serving], metrics: list[str],
             default_cpus: float | None = None) -> tuple[Reading, ...]:
    """Pure: the agent's samples (/api/stats) -> each serving replica's utilisation per metric.

    cpu: cpu_percent (100 = one core) as a % of the replica's cpus limit; memory: the working
    set as a % of its memory limit (None without a limit). Matched by container id or name.
    """
    by_key = {r.id: r for r in replicas} | {r.name: r for r in replicas}
    out: list[Reading] = []
    for sample in samples:
        replica = by_key.get(sample.get("id", "")) or by_key.get(sample.get("name", ""))
        if replica is None or not sample.get("up", True):
            continue
        at = float(sample.get("at") or 0.0)
        for metric in metrics:
            value: float | None
            if metric == "cpu":
                cpus = replica.cpus or default_cpus or 1.0
                value = float(sample.get("cpu_percent") or 0.0) / cpus
            else:
                limit = sample.get("memory_limit_bytes")
                value = float(sample.get("memory_bytes") or 0) / limit * 100.0 if limit else None
            out.append(Reading(replica.name, metric, None if value is None else round(value, 2), at))
    return tuple(out)
