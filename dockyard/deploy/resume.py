"""Before a deploy that was interrupted (its pipeline worker was killed) runs again, on containers.

A killed deploy can leave new replicas that were never health-checked beside the old ones, which
it had moved aside as '<name>-old-<id>'. Deploying again from there would keep those new replicas
as "up to date" without checking them, and a release that never becomes healthy would end as a
mix of old and new. So while the environment's live release still runs, the leftovers of the
interrupted deploy are removed and the old replicas get their names back: the step then deploys
from one whole release, with every new replica checked. Blue-green environments are left to their
own executor (their idle colour is meant to differ).
"""

from __future__ import annotations

from collections.abc import Callable

from dockyard.engine import labels as L
from dockyard.engine.interface import Engine
from dockyard.state.lock import env_lock


def restore_live_release(engine: Engine, app: str, env: str, live_release: str | None,
                         log: Callable[[str], None]) -> None:
    observed = engine.observe(app, env)
    if live_release is None or not any(c.release == live_release and c.running for c in observed):
        return  # nothing whole to go back to: the deploy converges from what is there
    leftovers = [c for c in observed if c.release != live_release]
    moved = [c for c in observed if c.release == live_release and "-old-" in c.name]
    if not leftovers and not moved:
        return
    what = f"restoring {app}/{env} after an interrupted deploy"
    with env_lock(app, env, doing="resume"):
        for container in leftovers:
            engine.remove_replica(container.id, what)
            log(f"removed {container.name}: started by the interrupted deploy, never checked")
        taken = {c.name for c in observed if c not in leftovers}
        for container in moved:
            name = L.container_name(app, env, container.service, container.replica)
            if name not in taken:
                engine.rename_replica(container.id, name, what)
                taken.add(name)
                log(f"renamed {container.name} back to {name}")
