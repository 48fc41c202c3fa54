"""A canary deploy on the fake engine and edge (issue 32): the sequence of engine and edge actions of
a canary promoted through its steps and of one aborted by its analysis; the edge's requests are
access log lines written as the real edge writes them, while the deploy runs."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dockyard.deploy.rollout_store import RolloutStore
from dockyard.errors import DeployError
from dockyard.notify.store import Events
from dockyard.state.audit import AuditLog
from tests.fakes.deploys import IMAGES, SPEC, Site

CANARY = SPEC.replace("environments:\n", "environments:\n  live:\n    strategy: canary\n    domains: [shop.test]\n"
                      "    canary:\n      steps: [{weight: 10, pause: 0.3s}, {weight: 50, pause: 0.3s}]\n"
                      "      analysis: {min_requests: 5, interval: 0.1s}\n")


@contextmanager
def requests_at_the_edge(home: Path, canary_status: int) -> Iterator[None]:
    """Access lines of the environment, canary and stable alike, every 10 ms until the block ends."""
    logs = home / "edge" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def write() -> None:
        with (logs / "access-00000000000000000001.log").open("a") as f:
            while not stop.wait(0.01):
                for track, status in (("canary", canary_status), ("stable", 200)):
                    f.write(json.dumps({"t": round(time.time(), 3), "app": "shop", "env": "live", "status": status,
                                        "ut": 3, "rt": 4, "track": track}) + "\n")
                f.flush()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield
    finally:
        stop.set()
        writer.join()


def test_a_canary_goes_through_its_steps_then_the_stable_release_goes(dockyard_env: Path, tmp_path: Path) -> None:
    site = Site(tmp_path, CANARY)
    r1 = site.deployer.deploy("live", image=IMAGES["r1"]).release_id  # the first: live whole
    assert site.edge.routes[("shop", "live")].canary is None
    stable = f"edge shop.test -> {','.join(site.edge.routes[('shop', 'live')].servers)}"
    first = len(site.actions)
    with requests_at_the_edge(dockyard_env, 200):
        r2 = site.deployer.deploy("live", image=IMAGES["r2"]).release_id
    acts = site.actions[first:]
    starts = [a for a in acts if a.startswith("create shop_live_web_green")]
    assert len(starts) == 2  # the canary beside the stable release (blue), before any weight
    edge_changes = [a for a in acts if a.startswith("edge ")]
    # the split at 10 % (the stable servers stay: judged at once, no drain), 50 % in the running edge,
    # then every request to the canary, drained before the stable replicas go
    assert edge_changes[:2] == [stable, "edge canary shop/live 50%"] and edge_changes[3] == "edge drained"
    assert edge_changes[2] != stable and len(edge_changes) == 4
    assert acts.index(edge_changes[2]) < min(i for i, a in enumerate(acts) if a.startswith("remove shop_live_web_blue"))
    assert set(site.running().values()) == {r2}
    route = site.edge.routes[("shop", "live")]
    assert route.canary is None and len(route.servers) == 2
    rollout = RolloutStore(site.db).latest("shop", "live")
    assert rollout is not None and rollout.state == "promoted" and rollout.stable_release == r1
    assert [(s["weight"], s["decision"]) for s in rollout.results] == [(10, "advance"), (50, "promote")]
    assert [(r.release_id, r.status) for r in site.db.releases("shop", "live")][:2] == [(r2, "live"),
                                                                                         (r1, "superseded")]


def test_a_failing_canary_is_aborted_at_its_first_step_and_the_stable_release_stays(dockyard_env: Path,
                                                                                      tmp_path: Path) -> None:
    site = Site(tmp_path, CANARY)
    r1 = site.deployer.deploy("live", image=IMAGES["r1"]).release_id
    with requests_at_the_edge(dockyard_env, 500), pytest.raises(DeployError) as failed:
        site.deployer.deploy("live", image=IMAGES["r2"])
    # judged from its first requests: settled by the 500s of the first few (fewer than min_requests) or more
    assert re.search(r"was aborted: 5xx ratio (at least )?(0\.[2-9]\d*|1\.0+) > 0.01", failed.value.message), \
        failed.value.message
    assert f"release {r1} serves every request" in failed.value.message
    assert set(site.running().values()) == {r1}
    route = site.edge.routes[("shop", "live")]
    assert route.canary is None and len(route.servers) == 2
    # nobody to the canary at once, then its route goes (a reload), drained before its replicas go
    edge_changes = [a for a in site.actions if a.startswith("edge ")]
    cut = edge_changes.index("edge canary shop/live -1%")
    assert edge_changes[cut + 1] == f"edge shop.test -> {','.join(route.servers)}"
    assert edge_changes[cut + 2] == "edge drained"
    rollout = RolloutStore(site.db).latest("shop", "live")
    assert rollout is not None and rollout.state == "aborted" and rollout.weight == 0
    assert [(s["weight"], s["decision"]) for s in rollout.results] == [(10, "abort")]
    statuses = {r.release_id: r.status for r in site.db.releases("shop", "live")}
    assert statuses[r1] == "live" and statuses[rollout.release_id] == "aborted"
    (event,) = Events(site.db).recent(("rollout.aborted",), app="shop")
    assert "5xx ratio" in event.event.text and event.event.data["release"] == rollout.release_id
    (row,) = [r for r in AuditLog(site.db).rows() if r.action == "rollout abort"]
    assert (row.actor, row.target, row.outcome) == ("dockyard", "shop/live", "ok") and "5xx ratio" in row.detail


def test_a_rollout_driven_again_puts_the_edge_back_as_its_table_says(dockyard_env: Path, tmp_path: Path) -> None:
    """A deploy killed between the rollout's row and its route leaves the edge without the split: the
    driver that takes it over publishes the canary at the table's weight before it judges anything."""
    from dockyard.deploy.rollout import RolloutDriver

    site = Site(tmp_path, CANARY)
    site.deployer.deploy("live", image=IMAGES["r1"])
    with requests_at_the_edge(dockyard_env, 200):
        site.deployer.deploy("live", image=IMAGES["r2"])  # a whole rollout: its plan is the one to reuse
    done = RolloutStore(site.db).latest("shop", "live")
    assert done is not None
    # the state a kill leaves: the canary's replicas run (green), its row says 50 %, the edge has no split
    site.deployer.deploy("live", image=IMAGES["r1"], hooks=False)  # r1 back on blue, whole
    target = site.deployer.placement(site.engine, "live")
    prepared = site.deployer.identify(site.engine, "live", IMAGES["r2"], *site.deployer.resolve("live", None))
    target.start_color(target.describe(prepared, None), "green", "the killed deploy's canary")
    stable = next(r.release_id for r in site.db.releases("shop", "live") if r.status == "live")
    row = RolloutStore(site.db).start("shop", "live", prepared.release_id, stable, 50,
                                      {**done.plan, "color": "green"}, "tester")
    assert site.edge.routes[("shop", "live")].canary is None
    driver = RolloutDriver(site.db, row, site.log.append, site.deployer.parts)
    driver.reconcile()
    canary = site.edge.routes[("shop", "live")].canary
    assert canary is not None and canary.weight == 50 and canary.release == prepared.release_id
    assert len(canary.servers) == 2
    # and where its replicas are gone, the rollout ends aborted, the edge without a split
    site.engine.containers = {k: c for k, c in site.engine.containers.items() if "green" not in c.name}
    driver.reconcile()
    assert driver.row.state == "aborted" and driver.row.reason == "its replicas are gone"
    assert site.edge.routes[("shop", "live")].canary is None
    driver.close()


def test_the_agents_samples_go_to_each_release_by_container_also_for_swarm_tasks() -> None:
    from dockyard.deploy.rollout import Tally, sample_usage
    from dockyard.router.colors import Replica

    def replica(id_: str, container: str, release: str, color: str, worker: bool = False) -> Replica:
        return Replica(id=id_, name=id_, service="web", replica=1, color=color, release=release, config_hash="h",
                       running=True, port=None if worker else 8080, worker=worker, container=container)

    replicas = [replica("c0ffee000001", "c0ffee000001", "r2", "green"),  # a container: its own id
                replica("task1", "abcdef1234567890", "r2", "green"),  # a Swarm task: its container's
                replica("task2", "fedcba0987654321", "r1", "blue"),
                replica("task3", "", "r1", "blue"),  # no container yet: nothing of it sampled
                replica("task4", "0123456789ab", "r1", "blue", worker=True)]  # no requests: not compared
    samples = [{"id": "c0ffee000001", "cpu_percent": 10, "memory_bytes": 100},
               {"id": "abcdef123456", "cpu_percent": 30, "memory_bytes": 300},
               {"id": "fedcba098765", "cpu_percent": 5, "memory_bytes": 50},
               {"id": "0123456789ab", "cpu_percent": 90, "memory_bytes": 900},
               {"id": "fedcba098765", "cpu_percent": 7, "memory_bytes": 70, "up": False}]
    tally = Tally()
    sample_usage(tally, samples, replicas, canary="r2", stable="r1")
    assert (tally.cpu, tally.memory, tally.replicas) == (
        {"canary": [10.0, 30.0], "stable": [5.0]}, {"canary": [100, 300], "stable": [50]},
        {"canary": 2, "stable": 1})
