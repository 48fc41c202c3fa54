"""Drift between a balancer's upstreams and its colours' replicas: pure (issue 14)."""
from __future__ import annotations

from dockyard.router.colors import Replica, drift, rebuilt
from dockyard.router.render import RouterState, Side


def replica(name: str, color: str, port: int | None, running: bool = True, service: str = "web") -> Replica:
    release = "r1" if color == "blue" else "r0"
    return Replica(id=name, name=name, service=service, replica=1, color=color, release=release, config_hash="h",
                   running=running, port=port)


STATE = RouterState("shop", "production", 8000, 8001, live=Side("blue", "r1", ("127.0.0.1:33068", "127.0.0.1:33069")),
                    preview=Side("green", "r0", ("127.0.0.1:33070",)), service="web", engine="local")


def test_an_engine_restart_moves_the_replicas_and_the_rebuilt_state_follows() -> None:
    now = rebuilt(STATE, [replica("b1", "blue", 32773), replica("b2", "blue", 32772), replica("g1", "green", 33070),
                          replica("w1", "blue", 40000, service="worker")])
    assert now.live == Side("blue", "r1", ("127.0.0.1:32772", "127.0.0.1:32773"))
    assert now.preview == STATE.preview  # green did not move
    assert drift(STATE, now) == ["live (blue) pointed at 127.0.0.1:33068, 127.0.0.1:33069; its replicas are at "
                                 "127.0.0.1:32772, 127.0.0.1:32773"]


def test_a_colour_with_no_replica_serving_keeps_its_place_with_no_server() -> None:
    now = rebuilt(STATE, [replica("b1", "blue", None, running=False), replica("g1", "green", 33070)])
    assert now.live == Side("blue", "r1", ())  # answers 503 until its replicas are back, and stays live
    assert drift(STATE, now) == ["live (blue) pointed at 127.0.0.1:33068, 127.0.0.1:33069; its replicas are at "
                                 "nothing"]


def test_no_drift_when_the_replicas_are_where_the_balancer_sends_traffic() -> None:
    same = [replica("b1", "blue", 33068), replica("b2", "blue", 33069), replica("g1", "green", 33070)]
    assert drift(STATE, rebuilt(STATE, same)) == []


def test_a_state_written_before_the_watch_is_left_as_it_is() -> None:
    old = RouterState("shop", "production", 8000, 8001, live=STATE.live)
    assert rebuilt(old, []) == old


def test_a_configuration_edited_by_hand_is_told_from_a_rendered_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dockyard.router.nginx import NginxRouter
    from dockyard.router.render import render

    router = NginxRouter("shop", "production", home=tmp_path)
    router.paths.prefix.mkdir(parents=True)
    assert not router.hand_edited()  # no configuration at all: nothing edited
    router.paths.conf.write_text(render(STATE, router.paths))
    assert not router.hand_edited()
    router.paths.conf.write_text(render(STATE, router.paths).replace("server 127.0.0.1:33068 ", "server 127.0.0.1:9 "))
    assert router.hand_edited()
