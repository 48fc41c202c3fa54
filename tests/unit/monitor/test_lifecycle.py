"""Container lifecycle events from the engine's event stream: pure mapping (issue 14)."""
from __future__ import annotations

from dockyard.engine.facts import ContainerEvent, container_event
from dockyard.monitor.lifecycle import lifecycle_event

LABELS = {"dockyard.app": "shop", "dockyard.env": "production", "dockyard.service": "web"}


def event(action: str, **attrs: str) -> ContainerEvent:
    """As the engine streams it, parsed by engine/facts.py."""
    return container_event({"Type": "container", "Action": action, "id": "c" * 64, "timeNano": 1764410000123456789,
                            "Actor": {"ID": "c" * 64, "Attributes": {"name": "shop_production_web_1", **attrs}}})


def test_a_death_an_oom_kill_and_an_unhealthy_turn_are_events() -> None:
    died = lifecycle_event(event("die", exitCode="137"), "shop_production_web_1", LABELS)
    assert died is not None
    assert (died.rule, died.message) == ("container:died", "shop_production_web_1 exited with code 137")
    assert (died.app, died.env, died.service) == ("shop", "production", "web")
    assert died.started_at == died.ended_at == 1764410000.1234567
    oom = lifecycle_event(event("oom"), "shop_production_web_1", LABELS)
    assert oom is not None and oom.rule == "container:oom-killed"
    sick = lifecycle_event(event("health_status: unhealthy"), "shop_production_web_1", LABELS)
    assert sick is not None and sick.rule == "container:unhealthy"


def test_a_start_is_an_event_only_when_the_container_had_stopped() -> None:
    assert lifecycle_event(event("start"), "w", LABELS, was_running=True) is None  # nothing happened to it
    again = lifecycle_event(event("start"), "w", LABELS, was_running=False)  # its restart policy at work
    assert again is not None and (again.rule, again.message) == ("container:restarted", "w was restarted")


def test_ordinary_actions_are_no_event() -> None:
    for action in ("create", "attach", "rename", "destroy", "restart", "health_status: healthy", "exec_start: sh"):
        assert lifecycle_event(event(action), "w", LABELS, was_running=False if action == "create" else True) is None
