"""What doctor says of the edge (issue 27): down with routes, up with none, routes with no live
release behind them, certificates due or expired; pure, by equality."""
from __future__ import annotations

from dockyard.router.certs import CertInfo
from dockyard.router.edge_check import EdgeFacts, findings

DAY = 86400.0
NOW = 1_800_000_000.0


def facts(**kw: object) -> EdgeFacts:
    base = {"routes": [("shop", "production")], "running": True, "stopped": False, "ports_held": True,
            "address": "127.0.0.1", "ports": (80, 443), "live": {("shop", "production")}}
    return EdgeFacts(**{**base, **kw})  # type: ignore[arg-type]


def cert(days_left: float) -> CertInfo:
    return CertInfo(("shop.example",), NOW - 60 * DAY, NOW + days_left * DAY, "test CA")


def test_a_healthy_edge() -> None:
    assert findings(facts(), NOW, 30 * DAY) == ("running on 127.0.0.1:80/443, 1 route(s)", [])


def test_down_with_routes_and_up_with_none() -> None:
    assert findings(facts(running=False, ports_held=False), NOW, 30 * DAY) == (
        "not running", ["1 route(s) and HAProxy is not running: `dockyard edge start`"])
    assert findings(facts(running=False), NOW, 30 * DAY)[1] == [
        "1 route(s) and HAProxy is not running: `dockyard edge start`; another process holds a port of "
        "127.0.0.1:80/443"]
    assert findings(facts(routes=[], live=set()), NOW, 30 * DAY)[1] == [
        "HAProxy listens on 127.0.0.1:80/443 with no route: `dockyard edge stop`"]
    assert findings(facts(running=False, stopped=True), NOW, 30 * DAY) == (
        "stopped by `dockyard edge stop` (1 route(s) kept)", [])


def test_a_route_without_an_environment_and_certificates_due() -> None:
    summary, problems = findings(facts(routes=[("shop", "production"), ("old", "staging")],
                                       certificates={"a.example": cert(10), "b.example": cert(-1),
                                                     "c.example": cert(60), "d.example": "no such file"}),
                                 NOW, 30 * DAY)
    assert problems == [
        "the route of old/staging has no live release behind it: `dockyard down staging` in old's folder "
        "withdraws it",
        "the certificate of a.example expires on 2027-01-25 (renewal due): `dockyard edge renew`, or is "
        "`dockyard server` running?",
        "the certificate of b.example expired on 2027-01-14: `dockyard edge renew`",
        "the certificate of d.example cannot be read: no such file",
    ]
