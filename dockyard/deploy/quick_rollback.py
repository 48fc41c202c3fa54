"""`dockyard rollback ENV` of a blue-green environment on a container engine, inside its rollback
window, from what the spec's brief says (spec/brief.py): the switch back (deploy/switch_back.py)
without a Deployer, so without the spec's models, the configuration store or a deploy's machinery.
Anything else (another strategy, a Swarm, an idle colour that no longer has the previous release)
is None here, and the Deployer rolls back as ever."""

from __future__ import annotations

from collections.abc import Callable

from dockyard import settings
from dockyard.deploy.health import check_health, wait_healthy
from dockyard.deploy.history import record_release, rollback_pair
from dockyard.deploy.outcome import DeployOutcome
from dockyard.deploy.probes import HealthCheck
from dockyard.deploy.switch_back import SwitchBackParts, roll_back_to_idle
from dockyard.engine.client import connect
from dockyard.engine.placement import CONTAINERS, placement
from dockyard.router.switch import BoardSpec, Switchboard
from dockyard.spec.brief import HealthBrief, SpecBrief
from dockyard.state.db import StateDB


def health_check(health: HealthBrief | None) -> HealthCheck:
    """deploy/health.health_check, from the brief."""
    if health is None:
        return HealthCheck(path=None)
    return HealthCheck(path=health.path, interval=health.interval, timeout=health.timeout,
                       start_period=health.start_period, inside=health.command)


def quick_rollback(brief: SpecBrief, env: str, report: Callable[[str], None]) -> DeployOutcome | None:
    env_brief = brief.environment(env)
    if not env_brief.colors or env_brief.router is None or brief.routed is None:
        return None
    db = StateDB()
    live, previous = rollback_pair(db, brief.app, env)
    engine = connect(env_brief.engine)
    try:
        if placement(engine) != CONTAINERS:
            return None
        board = BoardSpec(brief.app, env, env_brief.engine, env_brief.router.live, env_brief.router.preview,
                          brief.routed, dict(brief.grace))
        author = settings.author()

        def record(env: str, release_id: str, image: str, commit: str | None, revision: int, status: str,
                   note: str) -> None:
            record_release(db, brief.app, author, report, env, release_id, image, commit, revision, status, note)

        parts = SwitchBackParts(board=lambda: Switchboard(board, engine, report), workers=env_brief.router.workers,
                                health={name: health_check(h) for name, h in brief.health.items()},
                                probe=wait_healthy, check=check_health, record=record, report=report)
        return roll_back_to_idle(brief.app, env, previous,
                                 f"rollback to {previous.release_id} (from {live.release_id})", parts)
    finally:
        engine.close()
