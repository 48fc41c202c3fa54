"""`logs` and `forwarder status` through Typer's CliRunner, on a store written here."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from dockyard.cli.logs_cmds import cli
from dockyard.logs.query import Query, build_sql, parse_since
from dockyard.logs.spool import Batch, Spool
from dockyard.logs.store import LogStore

runner = CliRunner()


def fill(path: Path) -> None:
    store = LogStore(path)
    now = int(time.time() * 1e9)
    tags = {"host": "h", "container": "shop_prod_web_1", "app": "shop", "env": "prod", "service": "web",
            "release": "r1"}
    store.write([Batch("a" * 64, "f", tags, [(0, now - 3_600 * 10**9, 0, "old request timeout"),
                                             (1, now, 1, "new request ok")]),
                 Batch("b" * 64, "f", {**tags, "service": "worker", "container": "shop_prod_worker_1"},
                       [(0, now, 0, "worker timeout")])])
    store.close()


def test_logs_filters_newest_first_and_json(tmp_path: Path) -> None:
    fill(tmp_path / "store.db")
    store = ["--store", str(tmp_path / "store.db"), "--app", "shop"]
    result = runner.invoke(cli, ["logs", "prod", "web", *store])
    assert result.exit_code == 0, result.output
    assert [line.split(": ", 1)[1] for line in result.output.splitlines()] == ["old request timeout", "new request ok"]
    result = runner.invoke(cli, ["logs", "prod", *store, "--grep", "timeout", "--json"])
    assert [r["message"] for r in json.loads(result.output)] == ["worker timeout", "old request timeout"]
    result = runner.invoke(cli, ["logs", *store, "--since", "10m", "--json"])
    assert {r["message"] for r in json.loads(result.output)} == {"new request ok", "worker timeout"}


def test_user_mistakes_are_messages(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["logs", "--store", str(tmp_path / "none.db"), "--app", "x"])
    assert result.exit_code != 0 and "no log store" in str(result.exception)
    fill(tmp_path / "store.db")
    result = runner.invoke(cli, ["logs", "--store", str(tmp_path / "store.db"), "--since", "soon"])
    assert result.exit_code == 2 or "--since" in str(result.exception)


def test_forwarder_status(tmp_path: Path) -> None:
    Spool(tmp_path / "spool.db", ["store"]).close()
    result = runner.invoke(cli, ["forwarder", "status", "--state", str(tmp_path), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["losses"] == []


def test_query_sql_and_since() -> None:
    sql, params = build_sql(Query(app="a", service="web", grep="time out", limit=5))
    assert "blocks_fts match ?" in sql and params == ["a", "web", '"time"* AND "out"*', "time out"]
    assert parse_since("10m", now=1000.0) == 400 * 10**9
