"""Take an environment down (`dockyard down ENV`): its names off the edge first, so no request
reaches what is about to stop, then its balancer, then its containers (each stopped within its
grace) or its Swarm services, its accessories, then its network. What runs is read from the engine's labels, so
everything Dockyard started is found whatever dockyard.yml says now. The release history and the
volumes (its data) stay, its live release marked `down`, unless purged; the configuration stays."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from dockyard.deploy.parts import Parts
from dockyard.engine import labels as L
from dockyard.engine.accessories import list_accessories
from dockyard.engine.actions import remove_services, stop_and_remove
from dockyard.engine.networks import remove_network
from dockyard.engine.observe import observe
from dockyard.engine.rows import Running
from dockyard.engine.volumes import app_volumes, remove_volume, unpin_nodes
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
    with env_lock(app, env):
        if parts.edge(report).withdraw(app, env):
            done.append("its names are off the edge")
        if parts.balancers(app, env, report).remove():
            done.append("its balancer is stopped and removed")
        engine = parts.engines(env_spec.engine)
        try:
            if engine.config.swarm:
                done += [f"removed service {name}" for name in remove_services(engine, app, env)]
            rows = [] if engine.config.swarm else observe(engine, app, env)
            grace = {name: service.stop_grace for name, service in spec.services.items()}

            def remove(row: Running) -> str | None:
                gone = stop_and_remove(engine, row.id, row.name, grace.get(row.service, 10.0))
                return f"removed {row.name}" if gone else None

            with ThreadPoolExecutor(max_workers=max(1, min(8, len(rows)))) as pool:
                done += [line for line in pool.map(remove, rows) if line]
            for accessory in [] if engine.config.swarm else list_accessories(engine, app, env):
                known = spec.accessories.get(accessory.name)
                if stop_and_remove(engine, accessory.id, accessory.container, known.stop_grace if known else 30.0):
                    done.append(f"removed accessory {accessory.container}")
            if remove_network(engine, app, env):
                done.append("removed its network")
            for volume in app_volumes(engine, app, env):
                if purge:  # its containers are gone: nothing holds it
                    remove_volume(engine, volume, wait=60.0 if engine.config.swarm else 0.0)
                    done.append(f"removed volume {volume} (its data)")
                else:
                    done.append(f"kept volume {volume} (down --purge removes it)")
            if engine.config.swarm and purge:  # the services' data labels: a new deploy pins afresh
                done += [f"unpinned its data from node {node}"
                         for node in unpin_nodes(engine, L.data_node_label(app, env, ""))]
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
