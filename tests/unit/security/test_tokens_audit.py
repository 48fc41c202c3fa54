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
    from tests.state_legacy import legacy_database

    path = tmp_path / "old.db"
    conn = legacy_database(path, 3)
    conn.executemany("INSERT INTO tokens (name, sha256, created_at) VALUES (?,?,?)",
                     [("ci", "a" * 64, 1.0), ("ci", "b" * 64, 2.0)])
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


def test_an_attacker_who_can_write_state_db_cannot_rewrite_the_log_unseen(tmp_path: Path) -> None:
    """Issue 28: deleting the last rows with audit_head, or changing an actor and recomputing the
    chain, passed verify while the chain had no key and the head lived in the database."""
    import hashlib
    from dataclasses import asdict

    from dockyard.state.audit import canonical

    def written(name: str) -> StateDB:
        db = StateDB(tmp_path / f"{name}.db")
        for i in range(8):
            AuditLog(db).record("alice", "cli", "deploy", f"shop/env{i}", "ok")
        assert AuditLog(db).verify() == []
        return db

    # 1. the last 5 rows deleted, audit_head moved back with them
    db = written("truncated")
    db.conn.execute("DELETE FROM audit WHERE seq > 3")
    db.conn.execute("UPDATE audit_head SET seq=3, hash=(SELECT hash FROM audit WHERE seq=3)")
    assert [p.what for p in AuditLog(db).verify()] == [
        "the log ends at row 3, but its head says 8 (rows deleted at the end)"]

    # 2. an actor changed and the whole chain recomputed (without the key: plain SHA-256)
    db = written("recomputed")
    prev = "0" * 64
    for row in list(AuditLog(db).all()):
        fields = {**asdict(row), "actor": "mallory" if row.seq == 2 else row.actor}
        digest = hashlib.sha256(canonical(prev, row.seq, fields)).hexdigest()
        db.conn.execute("UPDATE audit SET actor=?, prev=?, hash=? WHERE seq=?", (fields["actor"], prev, digest,
                                                                                 row.seq))
        prev = digest
    db.conn.execute("UPDATE audit_head SET hash=?", (prev,))
    found = AuditLog(db).verify()
    assert {p.seq for p in found if "changed after it was written" in p.what} == set(range(1, 9))

    # 3. the head beside the key removed: said, not accepted
    db = written("headless")
    AuditLog(db).keys.head_path.unlink()
    assert any("its head" in p.what and "is missing" in p.what for p in AuditLog(db).verify())

    # 4. the whole database swapped for an older copy of itself: its head has moved on
    db = written("swapped")
    older = [tuple(r) for r in db.conn.execute("SELECT * FROM audit WHERE seq <= 6")]
    AuditLog(db).record("alice", "cli", "deploy", "shop/late", "ok")
    db.conn.execute("DELETE FROM audit")
    db.conn.executemany("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?,?,?)", older)
    db.conn.execute("UPDATE audit_head SET seq=6, hash=?", (older[-1][-1],))
    assert any("its head says 9" in p.what for p in AuditLog(db).verify())


def test_every_command_is_audited_or_declared_a_reader() -> None:
    """Issue 28: seven changing commands were not audited. A new command must take a side."""
    import typer.main

    from dockyard.cli.audit_cmds import CHANGES, READS
    from dockyard.cli.main import app, register_all

    register_all()

    def leaves(command, path=()):  # type: ignore[no-untyped-def]
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                if not sub.hidden:
                    yield from leaves(sub, (*path, name))
        else:
            yield path

    found = set(leaves(typer.main.get_command(app)))
    assert sorted(found - set(CHANGES) - READS) == []
    assert set(CHANGES) & READS == set() and (set(CHANGES) | READS) - found == set()
    assert change_of(["maintenance", "on", "production"]) == ("maintenance on", ["production"], [])
    assert change_of(["exec", "production", "web", "--", "sh"]) == ("exec", ["production", "web"], [])
