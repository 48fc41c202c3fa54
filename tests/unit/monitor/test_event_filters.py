"""What the agent asks the engine to filter from its event stream (engine/local_socket.event_filters)."""

from __future__ import annotations

import json
from typing import Any

from dockyard.engine.local_socket import LocalEngine, event_filters
from dockyard.monitor.agent import AgentOptions, build_agent
from dockyard.monitor.inventory import EVENT_ACTIONS
from dockyard.settings_base import EngineSettings


def test_filters_name_the_labels_and_the_actions() -> None:
    assert event_filters({"dockyard.app": "shop", "dockyard.managed": ""}, ("start", "die")) == {
        "type": ["container"], "label": ["dockyard.app=shop", "dockyard.managed"], "event": ["die", "start"]}


def test_no_selector_and_no_actions_is_every_container_event() -> None:
    assert event_filters() == {"type": ["container"]}


def test_the_inventory_asks_for_what_it_acts_on() -> None:
    """start/die/destroy also wake the log forwarder; health_status carries "unhealthy" after a colon."""
    assert {"start", "die", "oom", "destroy", "rename", "health_status"} == set(EVENT_ACTIONS)


class RecordingWire:
    """engine/wire.Wire's streaming call, recorded."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def stream(self, path: str, query: dict[str, Any]) -> Any:
        self.asked.append((path, query))
        return iter(())


def test_the_agent_on_the_local_socket_has_the_engine_filter_its_stream() -> None:
    wire = RecordingWire()
    engine = LocalEngine(name="local", config=EngineSettings(host="unix:///var/run/docker.sock"), client=wire)  # type: ignore[arg-type]
    monitor = build_agent(engine, AgentOptions(history=False, driver="cgroupfs", host="h",
                                               selector={"dockyard.app": "shop"}))
    monitor.inventory.events(1_800_000_000)
    assert wire.asked == [("/events", {"since": "1800000000", "filters": json.dumps(
        {"type": ["container"], "label": ["dockyard.app=shop"], "event": sorted(EVENT_ACTIONS)})})]
