"""The server's doors against issue 28's smaller findings, in process: a form with too many fields
is a 400, failed log-ins are limited and counted once per window, errors name no server path."""

from __future__ import annotations

import re
import time
from pathlib import Path

from fastapi.testclient import TestClient

from dockyard import settings
from dockyard.pipeline.store import RunStore
from dockyard.server.app import create_app
from dockyard.server.auth import TokenStore
from dockyard.server.runtime import proxy_options
from dockyard.state.audit import AuditLog
from dockyard.state.db import StateDB


def log_in(client: TestClient, token: str, extra: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/login").text)
    assert nonce
    return client.post("/login", data={"nonce": nonce.group(1), "token": token, **(extra or {})},
                       follow_redirects=False)


def login_rows(db: StateDB) -> list[tuple[str, str]]:
    return [(r.actor, r.outcome) for r in reversed(AuditLog(db).rows()) if r.action == "login"]


def test_a_form_with_too_many_fields_is_a_400_and_changes_nothing(dockyard_env: Path) -> None:
    db = StateDB()
    _, token = TokenStore(db).create("ann", ("admin",))
    with TestClient(create_app()) as client:
        crowded = {f"f{n}": "x" for n in range(60)}
        refused = log_in(client, token, crowded)
        assert refused.status_code == 400 and "more than 50 fields" in refused.text
        assert db.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
        assert log_in(client, token).status_code == 303
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/runs").text)
        assert csrf
        kept = client.post("/logout", data={"csrf": csrf.group(1), **crowded}, follow_redirects=False)
        assert kept.status_code == 400 and "more than 50 fields" in kept.text
        assert client.get("/runs", follow_redirects=False).status_code == 200  # still logged in


def test_failed_log_ins_are_limited_per_source_and_counted_once(dockyard_env: Path) -> None:
    # a window long enough for nine log-ins on a loaded machine (at 1 s, 8 of them once outlasted it)
    site = settings.Settings(server=settings.ServerSettings(login_failures=5, login_window_s=3.0))
    settings.save(site)
    db = StateDB()
    _, token = TokenStore(db).create("ann", ("admin",))
    with TestClient(create_app()) as client:
        answers = [log_in(client, f"dy_guess{n}").status_code for n in range(8)]
        assert answers == [401] * 5 + [429] * 3
        held = log_in(client, token)  # the right token too: the source learns nothing more
        assert held.status_code == 429 and 1 <= int(held.headers["retry-after"]) <= 3
        assert "too many failed log-ins" in held.text
        assert db.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
        assert login_rows(db) == []  # counted, not yet written
        time.sleep(int(held.headers["retry-after"]) + 0.1)
        assert log_in(client, token).status_code == 303  # the window ended
    assert login_rows(db) == [("-", "refused: 5 failed log-ins, then 4 answered 429 (too many)"), ("ann", "ok")]


def test_only_listed_proxies_are_believed(dockyard_env: Path) -> None:
    assert proxy_options(settings.load()) == (False, [])
    trusted = settings.Settings(server=settings.ServerSettings(trusted_proxies=["10.0.0.2", "10.1.0.0/16"]))
    assert proxy_options(trusted) == (True, ["10.0.0.2", "10.1.0.0/16"])


def test_an_unknown_proxy_address_is_refused_by_the_settings(dockyard_env: Path) -> None:
    settings.settings_path().write_text("server: {trusted_proxies: [proxy.example]}\n")
    try:
        settings.load()
    except settings.DockyardError as exc:
        assert "'proxy.example' is not an IP address or network" in exc.message
    else:
        raise AssertionError("a proxy name was accepted")


def test_api_errors_name_no_path_of_the_server(dockyard_env: Path, tmp_path: Path) -> None:
    db = StateDB()
    _, token = TokenStore(db).create("ann", ("admin",))
    repo = tmp_path / "srv" / "shop.git"
    RunStore(db).register_app("shop", str(repo), "dockyard.yml")
    with TestClient(create_app()) as client:
        answer = client.get("/api/apps/shop/environments", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 404
    assert str(tmp_path) not in answer.text and "the repository of shop" in answer.json()["error"]
