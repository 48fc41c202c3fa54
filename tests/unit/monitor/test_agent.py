from __future__ import annotations

import pytest

from dockyard.monitor.agent import Agent


class Part:
    def __init__(self, name: str, log: list[str], fail: bool = False) -> None:
        self.name, self.log, self.fail = name, log, fail

    def start(self) -> None:
        if self.fail:
            raise RuntimeError("no")
        self.log.append(f"start {self.name}")

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")


def test_components_start_in_order_and_stop_in_reverse() -> None:
    log: list[str] = []
    agent = Agent([Part("metrics", log)])
    agent.add(Part("logs", log))  # e.g. the log forwarder, beside the metrics loop
    agent.start()
    agent.stop()
    assert log == ["start metrics", "start logs", "stop logs", "stop metrics"]


def test_a_failed_start_stops_those_started() -> None:
    log: list[str] = []
    agent = Agent([Part("a", log), Part("b", log, fail=True), Part("c", log)])
    with pytest.raises(RuntimeError):
        agent.start()
    assert log == ["start a", "stop a"]


def test_run_returns_when_asked_to_stop() -> None:
    log: list[str] = []
    agent = Agent([Part("a", log)])
    agent.stopping.set()
    agent.run()
    assert log == ["start a", "stop a"]
