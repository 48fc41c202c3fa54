"""Scoped, expiring tokens and the hash-chained audit log (issue 12)."""
from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.cli.audit_cmds import change_of
from dockyard.errors import UsageError
from dockyard.server.auth import Token, TokenStore, parse_expiry, parse_scopes
from dockyard.state.audit import AuditLog, audited
from dockyard.state.db import StateDB


@pytest.fixture
def db(tmp_path: Path) -> StateDB:
    return StateDB(tmp_path / "state.db")


def token(*scopes: str) -> Token:
    return Token(1, "t", 0.0, scopes)


def test_scopes_allow_what_they_name_and_read_always() -> None:
    assert token("trigger").allows("read") and token("trigger").allows("trigger")
    assert not token("trigger").allows("deploy", "production") and not token("trigger").allows("approve")
    assert token("deploy:staging").allows("deploy", "staging")
    assert not token("deploy:staging").allows("deploy", "production")
    assert not token("deploy:staging").allows("deploy")  # no env: not covered by an env-scoped token
    assert token("deploy").allows("deploy", "production")
    assert token("admin").allows("admin") and token("admin").allows("deploy", "x")
    assert not token("deploy").allows("admin")


def test_parse_scopes_and_expiry() -> None:
    assert parse_scopes(["deploy"], ["staging", "production"]) == ("deploy:staging", "deploy:production")
    assert parse_scopes(["read,trigger", "deploy:qa"]) == ("read", "trigger", "deploy:qa")
    for bad, envs in ((["root"], []), ([], []), (["read"], ["staging"]), (["deploy:../x"], [])):
        with pytest.raises(UsageError):
            parse_scopes(bad, envs)
    assert parse_expiry("30d", 1000.0) == 1000.0 + 30 * 86400
    assert parse_expiry("never", 0) is None
    with pytest.raises(UsageError, match="duration"):
        parse_expiry("soon", 0)


def test_an_expired_token_is_refused_and_last_use_is_kept(db: StateDB) -> None:
    store = TokenStore(db)
    record, value = store.create("ci", ("trigger",), expires_at=2000.0)
    assert store.verify(value, now=1000.0) is not None
    assert store.all()[0].last_used_at == 1000.0
    assert store.verify(value, now=2000.0) is None
    assert store.all()[0].scopes == ("trigger",)


def test_tokens_made_before_scopes_keep_every_right_and_unique_names(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    from dockyard.state.db import SCHEMA

    for number, script in enumerate(SCHEMA[:3], start=1):
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
    conn.executemany("INSERT INTO tokens (name, sha256, created_at) VALUES (?,?,?)",
                     [("ci", "a" * 64, 1.0), ("ci", "b" * 64, 2.0)])
    conn.commit()
    conn.close()
    tokens = TokenStore(StateDB(path)).all()
    assert [(t.name, t.scopes) for t in tokens] == [("ci", ("admin",)), (f"ci-{tokens[1].id}", ("admin",))]


def test_the_audit_chain_detects_a_changed_a_deleted_and_a_truncated_row(db: StateDB) -> None:
    log = AuditLog(db)
    for i in range(5):
        log.record("alice", "cli", "config set", f"shop/env{i}", "ok", "DB_HOST")
    assert log.verify() == []
    db.conn.execute("UPDATE audit SET actor='mallory' WHERE seq=2")
    assert [p.seq for p in log.verify()] == [2]
    db.conn.execute("UPDATE audit SET actor='alice' WHERE seq=2")
    db.conn.execute("DELETE FROM audit WHERE seq=3")
    assert any("missing" in p.what for p in log.verify())
    db2 = StateDB(db.path)
    log2 = AuditLog(db2)
    db2.conn.execute("DELETE FROM audit WHERE seq >= 3")
    assert any("deleted at the end" in p.what for p in log2.verify())


def test_audited_records_the_outcome(db: StateDB) -> None:
    with audited(db, "bob", "api 127.0.0.1", "rollback", "shop/production"):
        pass
    with pytest.raises(UsageError):
        with audited(db, "bob", "api 127.0.0.1", "rollback", "shop/staging"):
            raise UsageError("no previous release")
    rows = AuditLog(db).rows()
    assert [(r.target, r.outcome) for r in rows] == [("shop/staging", "failed: no previous release"),
                                                     ("shop/production", "ok")]
    assert [r.target for r in AuditLog(db).rows(target="production")] == ["shop/production"]


@pytest.mark.parametrize("argv,expected", [
    (["config", "set", "production", "DB_PASSWORD=hunter2", "DB_HOST=x"],
     ("config set", ["production"], ["DB_PASSWORD", "DB_HOST"])),
    (["-f", "a/dockyard.yml", "deploy", "staging"], ("deploy", ["staging"], [])),
    (["promote", "staging", "production"], ("promote", ["staging", "production"], [])),
    (["scale", "production", "web", "4"], ("scale", ["production", "web"], ["4"])),
    (["token", "create", "--name", "ci", "--scope", "read"], ("token create", [], [])),
    (["ps"], None), (["config", "get", "production", "X"], None), (["deploy", "--help"], None),
    (["deploy", "staging", "--dry-run"], None),
    (["app", "policy", "shop", "--allow-root", "--domain", ".shop.example"],
     ("app policy", ["shop"], ["--allow-root", "--domain"])),
    (["app", "policy", "shop"], None), (["app", "policy", "shop", "--json"], None),  # it only shows
])
def test_which_commands_are_audited_and_values_never(argv: list[str], expected: object) -> None:
    assert change_of(argv) == expected
