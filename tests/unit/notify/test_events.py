"""The one event outbox (issue 29): a certificate problem of the edge and the alerts the server takes
from the host's agent are events of the state database, each once, listed by `dockyard events` and
the dashboard the same as the agent's own, merged with what the agent answers live."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dockyard.cli.monitor_cmds import monitor_app
from dockyard.deploy.edge import record_event
from dockyard.monitor.alerts import AlertEvent
from dockyard.monitor.history import History
from dockyard.monitor.http import HttpEndpoint
from dockyard.monitor.loops import MonitorState
from dockyard.notify.emit import emit, take_alerts
from dockyard.notify.listing import LISTED, merge
from dockyard.notify.store import Events, Outbox
from dockyard.pipeline.store import RunStore
from dockyard.server.app import create_app
from dockyard.server.auth import TokenStore
from dockyard.state.db import StateDB
from tests.json_schemas import check
from tests.unit.server.test_doors import log_in

ROUTED = """\
notifications:
  channels:
    hook: {type: webhook, url: "http://127.0.0.1:9/hook"}
  routes:
    - {channel: hook}
"""


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def agent_row(started: float, ended: float | None, rule: str = "down") -> dict:
    return {"rule": rule, "container": "shop-production-web-1", "app": "shop", "env": "production",
            "service": "web", "host": "h1", "started_at": started, "ended_at": ended, "message": "web is down"}


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[HttpEndpoint]:
    history = History(tmp_path / "agent-monitor.db")
    history.record_events("h1", [AlertEvent("hot", "shop-production-web-1", "shop", "production", "web", 5.0, 8.0,
                                            "hot")])
    endpoint = HttpEndpoint(MonitorState(host="h1", history=history), "127.0.0.1:0")
    endpoint.start()
    yield endpoint
    endpoint.stop()
    history.close()


def events_json(*args: str) -> list[dict]:
    result = CliRunner().invoke(monitor_app, ["events", "--json", *args])
    assert result.exit_code == 0, result.output
    return list(check("events.schema.json", orjson.loads(result.stdout)))


def test_a_certificate_problem_is_an_event_of_the_outbox_and_of_the_listing(
        dockyard_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, agent: HttpEndpoint) -> None:
    monkeypatch.chdir(tmp_path)  # no dockyard.yml: every app's events
    record_event("shop", "production", "shop.example.com", "certificate not renewed: the CA is down")
    db = StateDB()
    [recorded] = Events(db).recent(LISTED)
    assert (recorded.event.kind, recorded.event.app, recorded.host) == ("edge.certificate", "shop",
                                                                         socket.gethostname())
    assert Outbox(db).recent() == []  # no route may name it: nothing to deliver
    db.close()
    assert not (dockyard_env / "monitor.db").exists()  # the agent's history is the agent's alone
    rows = events_json("--agent", agent.url)  # merged with the agent's own, newest first
    assert [(r["rule"], r["container"], r["service"]) for r in rows] == [
        ("edge:certificate", "shop.example.com", None), ("hot", "shop-production-web-1", "web")]
    assert rows[0]["started_at"] == rows[0]["ended_at"] and rows[0]["message"].endswith("the CA is down")
    alone = events_json("--agent", closed_port())  # no agent: what the server recorded
    assert [r["rule"] for r in alone] == ["edge:certificate"]


def test_without_an_agent_or_recorded_events_the_command_fails_as_before(
        dockyard_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(monitor_app, ["events", "--agent", closed_port()])
    assert result.exit_code != 0 and "did not answer /api/events" in str(result.exception)
    assert not (dockyard_env / "state.db").exists()  # listing makes no state database


def test_an_alert_read_twice_is_one_event_and_one_delivery_per_channel(dockyard_env: Path) -> None:
    db = StateDB()  # makes the home
    (dockyard_env / "settings.yml").write_text(ROUTED)
    rows = [agent_row(1000.0, None)]
    assert take_alerts(db, rows, since=900.0) == 1
    assert take_alerts(db, rows, since=900.0) == 0
    rows = [agent_row(1000.0, 1030.0)]  # it ended: one more event, the same alert
    assert take_alerts(db, rows, since=900.0) == 1 and take_alerts(db, rows, since=900.0) == 0
    assert [r.event.kind for r in Events(db).recent(LISTED)] == ["alert.resolved", "alert.firing"]
    assert sorted(d.key for d in Outbox(db).due(2000.0)) == [
        "alert:shop:production:down:shop-production-web-1:1000.000:firing/hook",
        "alert:shop:production:down:shop-production-web-1:1000.000:resolved/hook"]
    db.close()
    result = CliRunner().invoke(monitor_app, ["events", "--json", "--agent", closed_port()])
    [row] = orjson.loads(result.stdout)
    assert (row["started_at"], row["ended_at"], row["host"]) == ("1970-01-01T00:16:40.000Z",
                                                                 "1970-01-01T00:17:10.000Z", "h1")


def test_emitted_events_are_recorded_and_still_delivered_per_channel(dockyard_env: Path) -> None:
    db = StateDB()
    emit(db, "run:7:run.failed", "run.failed", "shop", "production", "run #7 of shop failed", run=7)
    assert Outbox(db).recent() == []  # no routes: recorded, for no channel
    (dockyard_env / "settings.yml").write_text(ROUTED)
    emit(db, "run:8:run.failed", "run.failed", "shop", "production", "run #8 of shop failed", run=8)
    assert [r.event.id for r in Events(db).recent(("run.failed",))] == ["run:8:run.failed", "run:7:run.failed"]
    [delivery] = Outbox(db).recent()
    assert delivery.key == "run:8:run.failed/hook" and delivery.event.data == {"run": 8}
    db.close()


def test_the_agent_answers_for_an_alert_it_has_too() -> None:
    recorded, live = [agent_row(1000.0, None)], [agent_row(1000.0004, 1030.0), agent_row(1100.0, None, "hot")]
    assert [(r["rule"], r["ended_at"]) for r in merge(recorded, live, 10)] == [("hot", None), ("down", 1030.0)]
    assert len(merge(recorded, live, 1)) == 1


def test_the_dashboard_shows_the_recorded_events_when_the_agent_does_not_answer(
        dockyard_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_AGENT", closed_port())
    db = StateDB()
    RunStore(db).register_app("shop", "/srv/shop.git", "dockyard.yml")
    _, token = TokenStore(db).create("ann", ("admin",))
    db.close()
    record_event("shop", "production", "shop.example.com", "certificate not renewed: the CA is down")
    with TestClient(create_app()) as client:
        log_in(client, token)
        page = client.get("/apps/shop/envs/production/metrics").text
    assert "edge:certificate" in page and "certificate not renewed: the CA is down" in page
