"""The agent's endpoints and the stats/events commands, on a MonitorState filled by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from dockyard.cli import common
from dockyard.cli.monitor_cmds import monitor_app
from dockyard.errors import UsageError
from dockyard.monitor.alerts import AlertEvent
from dockyard.monitor.exposition import Snapshot
from dockyard.monitor.history import History
from dockyard.monitor.http import HttpEndpoint
from dockyard.monitor.loops import MonitorState
from dockyard.monitor.model import STATS_FIELDS, Sample
from dockyard.netcheck import parse_listen


def samples() -> list[Sample]:
    return [Sample(id="1", name="shop_prod_web_1", app="shop", env="prod", service="web", cpu_percent=12.5,
                   memory_bytes=2048, memory_limit_bytes=4096, disk_bytes=3),
            Sample(id="2", name="shop-test-web-1", app="shop", env="test", service="web"),
            Sample(id="3", name="other", app="", env="", service="", up=False, state="down")]


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[HttpEndpoint]:
    history = History(tmp_path / "m.db", retention_s=100)
    state = MonitorState(host="h", history=history)
    state.snapshot = Snapshot(host="h", samples=samples(), sweeps=3)
    history.record("h", samples(), now=1000.0)  # older than the retention: gone at the next write
    history.record("h", samples())
    history.record_events("h", [AlertEvent("down", "other", "", "", "", 10.0, None, "other is down"),
                                AlertEvent("hot", "shop_prod_web_1", "shop", "prod", "web", 5.0, 8.0, "hot")])
    ep = HttpEndpoint(state, "127.0.0.1:0")
    ep.start()
    yield ep
    ep.stop()
    history.close()


def test_endpoints(endpoint: HttpEndpoint) -> None:
    url = endpoint.url
    assert httpx.get(url + "/healthz").text == "ok\n"
    assert "dockyard_container_up" in httpx.get(url + "/metrics").text
    stats = httpx.get(url + "/api/stats", params={"env": "prod"}).json()
    assert [s["name"] for s in stats["samples"]] == ["shop_prod_web_1"]
    events = httpx.get(url + "/api/events").json()
    assert [e["rule"] for e in events] == ["down", "hot"] and events[1]["ended_at"] == 8.0
    history = httpx.get(url + "/api/history", params={"since": "60"}).json()
    assert len(history) == 3  # the old batch fell to the retention bound
    assert httpx.get(url + "/sd/zabbix").json() == {"data": []}
    assert httpx.get(url + "/nope").status_code == 404


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:9180") == ("127.0.0.1", 9180)
    with pytest.raises(UsageError):
        parse_listen("9180")


def test_stats_json(endpoint: HttpEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no dockyard.yml here: every app's containers
    result = CliRunner().invoke(monitor_app, ["stats", "--json", "--agent", endpoint.url])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["name"] for r in rows] == ["other", "shop_prod_web_1", "shop-test-web-1"]
    assert tuple(rows[1]) == STATS_FIELDS and rows[1]["cpu_percent"] == 12.5


def test_stats_table_and_events(endpoint: HttpEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # a wide table whatever COLUMNS the runner's worker was started with (pytest-xdist sets 80)
    monkeypatch.setattr(common.console, "width", 200)
    result = CliRunner().invoke(monitor_app, ["stats", "prod", "--agent", endpoint.url, "--count", "2",
                                              "--refresh", "0.05"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "shop_prod_web_1" in result.output and "12.5%" in result.output
    result = CliRunner().invoke(monitor_app, ["events", "--agent", endpoint.url], env={"COLUMNS": "200"})
    assert "FIRING" in result.output and "ended" in result.output


def test_agent_down_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(monitor_app, ["stats", "--json", "--agent", "http://127.0.0.1:9"])
    assert result.exit_code != 0
    assert "did not answer" in str(result.exception) and "dockyard agent" in str(result.exception)
