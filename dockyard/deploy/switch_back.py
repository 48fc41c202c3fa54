"""A blue-green rollback inside its window: live traffic goes back to the idle colour, which still
runs the previous release; its parked workers start again first. A configuration change of the
balancer, no container made. The same for a Deployer's rollback (deploy/bluegreen.py, from the whole
spec) and for the quick one (deploy/quick_rollback.py, from what the brief says of the spec)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.deploy.health import Check, Probe
from dockyard.deploy.outcome import DeployOutcome
from dockyard.deploy.probes import HealthCheck
from dockyard.errors import DeployError, DockyardError, HealthCheckFailed
from dockyard.plan.bluegreen import BGStep, Step
from dockyard.router.switch import Switchboard, url
from dockyard.state.db import Release as StoredRelease
from dockyard.state.lock import env_lock

Record = Callable[[str, str, str, str | None, int, str, str], None]  # env, release, image, commit, rev, status, note


@dataclass(frozen=True)
class SwitchBackParts:
    board: Callable[[], Switchboard]  # made under the environment's lock: it reads the balancer's state
    workers: str  # router.workers: what a standby colour's workers do (stop or keep)
    health: dict[str, HealthCheck]  # service -> its check
    probe: Probe  # waits for a started worker to be healthy
    check: Check  # one probe of each replica of a colour
    record: Record  # the release goes into the history as live
    report: Callable[[str], None]


def resume(board: Switchboard, color: str, health: dict[str, HealthCheck], probe: Probe,
           report: Callable[[str], None]) -> int:
    """Start a standby colour's parked workers and wait until each is healthy; how many."""
    started, containers = board.unpark(color)
    for container in containers:
        result = probe(board.engine, container, None, health.get(container.service, HealthCheck(path=None)))
        if not result.healthy:
            raise HealthCheckFailed(f"{container.name} did not become healthy again: {result.reason}")
    if started:
        report(f"started {color}'s {started} parked worker(s) again")
    return started


def roll_back_to_idle(app: str, env: str, previous: StoredRelease, note: str, parts: SwitchBackParts
                      ) -> DeployOutcome | None:
    """None when the idle colour does not have the previous release (the caller deploys it afresh).
    A switch that cannot complete leaves both colours as they were, and says why: the colour a
    rollback returns to is never removed."""
    with env_lock(app, env, doing="rollback"):
        board = parts.board()
        idle = board.preview
        everything = board.replicas()
        replicas = [r for r in everything if r.color == idle]
        if not idle or not replicas or {r.release for r in replicas} != {previous.release_id}:
            return None
        try:
            if board.service not in {r.service for r in replicas}:
                raise DeployError(f"{idle} has no replica of {board.service} left to serve")
            down = [r.name for r in replicas if not r.running and not r.parked]
            if down:
                raise HealthCheckFailed(f"{', '.join(down)} of {idle} are not running")
            resumed = resume(board, idle, parts.health, parts.probe, parts.report)
            everything = board.replicas()
            parts.check([r for r in everything if r.color == idle], parts.health)
        except DockyardError as exc:
            if parts.workers == "stop":
                try:
                    board.park(idle, "back as they were")
                except DockyardError as cleanup:  # the cause is what the user must see; this is said beside it
                    parts.report(f"could not stop {idle}'s workers again: {cleanup.message}")
            raise DeployError(
                f"cannot roll {app}/{env} back to release {previous.release_id} on {idle}: {exc.message}; "
                f"both colours are as they were, live traffic stays on {board.live or 'nothing'}",
                hint=f"see `dockyard logs {env}`; once {idle} answers, roll back again") from exc
        old = board.live
        seconds = board.route(live=idle, preview=old, switched_at=time.time(), replicas=everything)
        parts.report(f"live listener {url(board.state.live_port)} -> {idle} (release {previous.release_id}) "
                     f"in {seconds * 1000:.0f} ms; " + (f"its {resumed} parked worker(s) started again, no container "
                                                        "was created" if resumed else "no container was started"))
        if old and parts.workers == "stop":
            try:
                board.park(old, "it stands by now (router.workers: stop)")
            except DockyardError as exc:
                parts.report(f"could not stop {old}'s workers: {exc.message}")
        parts.record(env, previous.release_id, previous.image, previous.commit_sha, previous.config_revision, "live",
                     note)
        step = BGStep(Step.SWITCH, idle, f"rollback: live traffic {old} -> {idle}")
        outcome = DeployOutcome(app, env, previous.release_id, previous.image, previous.commit_sha,
                                previous.config_revision, [step])
        outcome.urls = [url(board.state.live_port), url(board.state.preview_port)]
        return outcome
