"""The edge in a deploy, on the fake engine and a fake edge (issue 15): a rolling environment's
names move to the new replicas before the old ones stop; a blue-green one is served through its
balancer's listeners; a name another environment holds is refused before anything starts."""
from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.deploy.edge import Renewals
from dockyard.deploy.targets.containers import container_workload
from dockyard.deploy.teardown import tear_down
from dockyard.notify.listing import recorded_alerts
from dockyard.router.edge import EdgeConflict
from dockyard.router.edge_render import EdgeRoute
from dockyard.state.db import StateDB
from tests.fakes.deploys import IMAGES, SPEC, Site

DOMAINS = SPEC.replace(
    "  testing: {strategy: rolling}\n",
    "  testing:\n    strategy: rolling\n    domains: [shop.example.com, www.shop.example.com]\n").replace(
    "router: {live: 18000, preview: 18001}}", "router: {live: 18000, preview: 18001}, domains: [shop.example.net]}")


@pytest.fixture
def site(dockyard_env: Path, tmp_path: Path) -> Site:
    return Site(tmp_path, DOMAINS)


def ports(site: Site, *names: str) -> list[str]:
    found = {c.name: c.bound for c in site.engine.containers.values() if c.status == "running"}
    return [f"127.0.0.1:{found[name]}" for name in names]


def test_a_rolling_deploy_moves_the_names_to_the_new_replicas_before_the_old_ones_stop(site: Site) -> None:
    site.deployer.deploy("testing", image=IMAGES["r1"])
    first = ports(site, "shop_testing_web_1", "shop_testing_web_2")
    assert site.edge.routes[("shop", "testing")].servers == tuple(sorted(first))
    site.actions.clear()
    site.deployer.deploy("testing", image=IMAGES["r2"])
    published = next(i for i, a in enumerate(site.actions) if a.startswith("edge shop.example.com,"))
    new = ports(site, "shop_testing_web_1", "shop_testing_web_2")
    assert site.actions[published] == f"edge shop.example.com,www.shop.example.com -> {','.join(sorted(new))}"
    assert site.actions[published + 1] == "edge drained"  # the old workers finish what they hold ...
    stops = [i for i, a in enumerate(site.actions) if a.startswith("stop ")]
    starts = [i for i, a in enumerate(site.actions) if a.startswith("start ")]
    assert max(starts) < published < min(stops)  # ... before the old replicas stop, after the new serve
    assert not set(new) & set(first)


def test_a_name_another_environment_holds_is_refused_before_anything_runs(site: Site) -> None:
    site.edge.routes[("blog", "production")] = EdgeRoute("blog", "production", ("www.shop.example.com",),
                                                          ("127.0.0.1:9",))
    with pytest.raises(EdgeConflict) as refused:
        site.deployer.deploy("testing", image=IMAGES["r1"])
    assert refused.value.message == (  # its main name too: across apps, a name under another's is theirs
        "dockyard.yml:11: shop.example.com is already served by blog/production on this host's edge\n"
        "dockyard.yml:11: www.shop.example.com is already served by blog/production on this host's edge")
    assert site.actions == []  # not a container created
    assert ("shop", "testing") not in site.edge.routes


def test_a_blue_green_environment_is_served_through_its_balancer(site: Site) -> None:
    site.deployer.deploy("production", image=IMAGES["r1"])
    route = site.edge.routes[("shop", "production")]
    assert (route.servers, route.preview, route.preview_name) == (
        ("127.0.0.1:18000",), ("127.0.0.1:18001",), "preview.shop.example.net")
    site.actions.clear()
    site.deployer.deploy("production", image=IMAGES["r2"])  # the switch is the balancer's: the edge stays
    assert [a for a in site.actions if a.startswith("edge")] == []


def test_names_taken_out_of_dockyard_yml_are_withdrawn_at_the_next_deploy(site: Site, tmp_path: Path) -> None:
    site.deployer.deploy("testing", image=IMAGES["r1"])
    plain = Site(tmp_path, SPEC)
    plain.edge.routes = site.edge.routes  # the same host's edge
    plain.deployer.deploy("testing", image=IMAGES["r1"])
    assert ("shop", "testing") not in site.edge.routes
    assert "edge withdraw shop/testing" in plain.actions


def test_down_takes_the_names_off_the_edge_first_and_keeps_the_history_unless_purged(site: Site) -> None:
    site.deployer.deploy("testing", image=IMAGES["r1"])
    live = site.db.live_release("shop", "testing")
    data = "dockyard_shop_testing_web_data"
    site.engine.volumes[data] = {"dockyard.managed": "1", "dockyard.app": "shop", "dockyard.env": "testing"}
    site.actions.clear()
    done = tear_down(site.spec, "testing", site.db, site.log.append, parts=site.deployer.parts, by="ops")
    assert f"kept volume {data} (down --purge removes it)" in done
    assert site.actions[0] == "edge withdraw shop/testing"  # before a replica stops
    assert sorted(site.actions[1:]) == sorted([
        "stop shop_testing_web_1", "remove shop_testing_web_1", "stop shop_testing_web_2",
        "remove shop_testing_web_2", "network remove dockyard_shop_testing"])
    assert site.engine.containers == {}
    assert site.db.live_release("shop", "testing") is None
    kept = site.db.releases("shop", "testing")[0]
    assert (kept.release_id, kept.status, kept.note) == (live.release_id, "down", "dockyard down by ops")
    site.deployer.deploy("testing", image=IMAGES["r1"])  # and it comes back
    assert len(site.running()) == 2
    site.actions.clear()
    tear_down(site.spec, "testing", site.db, site.log.append, parts=site.deployer.parts, purge=True)
    assert site.db.releases("shop", "testing") == []
    assert site.actions[-1] == f"volume remove {data}" and site.engine.volumes == {}  # after its containers


class FlakyEdge:
    """An edge whose certificates cannot be renewed until `fixed`."""

    def __init__(self) -> None:
        self.fixed = False
        self.tries = 0

    def secure(self, route: EdgeRoute) -> tuple[EdgeRoute, str | None]:
        self.tries += 1
        return route, None if self.fixed else "certificate for shop.example.com not renewed: the CA is down"

    def publish(self, route: EdgeRoute, where) -> bool:  # type: ignore[no-untyped-def]
        return False


def test_a_failed_renewal_is_retried_after_a_doubling_backoff_and_recorded(dockyard_env: Path) -> None:
    edge = FlakyEdge()
    route = EdgeRoute("shop", "production", ("shop.example.com",), ("127.0.0.1:8000",), tls="acme")
    lines: list[str] = []
    renewals = Renewals(lambda: edge, lines.append, lambda: [route])  # type: ignore[arg-type, return-value]
    assert renewals.run_once(now=1000.0) == [
        "shop/production: certificate for shop.example.com not renewed: the CA is down; next try in 5 min"]
    assert renewals.run_once(now=1200.0) == [] and edge.tries == 1  # waiting out the backoff
    assert renewals.run_once(now=1301.0)[0].endswith("next try in 10 min") and edge.tries == 2
    edge.fixed = True
    assert renewals.run_once(now=1301.0 + 601) == [] and edge.tries == 3
    assert renewals.retry_at == {}
    db = StateDB(dockyard_env / "state.db")
    events = recorded_alerts(db, "shop")  # the one outbox's events
    db.close()
    assert [e["rule"] for e in events] == ["edge:certificate", "edge:certificate"]


def test_a_replica_never_takes_a_balancer_port_of_the_app(site: Site) -> None:
    """The balancer's ports are free until it first listens: a replica started before must not
    take them (a test picking router ports from the kernel's free ports made this happen)."""
    site.deployer.deploy("testing", image=IMAGES["r1"])
    prepared = site.deployer.identify(site.deployer.parts.engines("local"), "testing", IMAGES["r1"],
                                      *site.deployer.resolve("testing", None))
    assert container_workload(site.spec, prepared, True).reserved_ports == frozenset({18000, 18001})
