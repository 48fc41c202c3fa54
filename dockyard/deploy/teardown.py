"""Take an environment down (`dockyard down ENV`): its names off the edge first, so no request
reaches what is about to stop, then its balancer, then its containers (each stopped within its
grace) or its Swarm services, its accessories, then its network. What runs is read from the engine's labels, so
everything Dockyard started is found whatever dockyard.yml says now. The release history and the
volumes (its data) stay, its live release marked `down`, unless purged (then the certificates of its
names go too); the configuration stays."""

from __future__ import annotations

from collections.abc import Callable

from dockyard.deploy.outcome import Placing
from dockyard.deploy.parts import Parts
from dockyard.deploy.targets import target_for
from dockyard.engine.placement import placement
from dockyard.spec import AppSpec
from dockyard.state.db import StateDB
from dockyard.state.lock import env_lock

Report = Callable[[str], None]


def tear_down(spec: AppSpec, env: str, db: StateDB, report: Report, parts: Parts | None = None,
              purge: bool = False, by: str = "") -> list[str]:
    """Remove what runs for `env`; what was done, a line each."""
    parts = parts or Parts()
    app, env_spec = spec.app, spec.environment(env)
    done: list[str] = []
    with env_lock(app, env, doing="down"):
        edge = parts.edge(report)
        if edge.withdraw(app, env):
            done.append("its names are off the edge")
        if purge and edge.forget_certificates(app, env):
            done.append("deleted the certificates of its names")
        if parts.balancers(app, env, report).remove():
            done.append("its balancer is stopped and removed")
        engine = parts.engines(env_spec.engine)
        try:
            kind = placement(engine)
            target = target_for(Placing(spec, report, parts), engine, env)
            done += target.remove_all()
            # one-offs (a `run --detach`, a job, one kept for the log forwarder): they hold volumes too
            if (place := target.one_offs()) is not None:
                for one in place.leftovers():
                    place.remove(one)
                    done.append(f"removed one-off {one.name}")
            for accessory in engine.list_accessories(app, env) if kind.hosts_accessories else []:
                known = spec.accessories.get(accessory.name)
                if engine.stop_and_remove(accessory.id, accessory.container, known.stop_grace if known else 30.0):
                    done.append(f"removed accessory {accessory.container}")
            if engine.remove_network(app, env):
                done.append("removed its network")
            for volume in engine.app_volumes(app, env):
                if purge:  # its containers are gone: nothing holds it
                    engine.remove_volume(volume, wait=kind.volume_release)
                    done.append(f"removed volume {volume} (its data)")
                else:
                    done.append(f"kept volume {volume} (down --purge removes it)")
            if purge:
                done += target.release_data()
        finally:
            engine.close()
        live = db.live_release(app, env)
        if purge:
            count = db.forget_releases(app, env)
            done.append(f"forgot its {count} release(s)")
        elif live is not None:
            db.mark_release(live.seq, "down", note=f"dockyard down{' by ' + by if by else ''}")
            done.append(f"release {live.release_id} is marked down (kept in its history)")
    for line in done:
        report(line)
    return done
