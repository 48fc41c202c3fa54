from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.server.auth import TokenStore
from dockyard.server.sessions import SESSION_HOURS, SessionStore
from dockyard.state.db import StateDB


@pytest.fixture
def db(tmp_path: Path) -> StateDB:
    return StateDB(tmp_path / "state.db")


def test_a_session_stands_for_its_token_until_log_out(db: StateDB) -> None:
    token, _ = TokenStore(db).create("ann", ("read",))
    sessions = SessionStore(db)
    cookie, session = sessions.start(token, now=1000.0)
    assert session.expires_at == 1000.0 + SESSION_HOURS * 3600
    found = sessions.find(cookie, now=1001.0)
    assert found is not None and found.token.name == "ann" and found.csrf == session.csrf
    assert cookie not in str(db.conn.execute("SELECT * FROM sessions").fetchall())  # only its hash is kept
    assert sessions.find("not-a-session", now=1001.0) is None and sessions.find(None) is None
    sessions.end(cookie)
    assert sessions.find(cookie, now=1002.0) is None


def test_a_session_ends_with_its_time_or_its_token(db: StateDB) -> None:
    tokens = TokenStore(db)
    short, _ = tokens.create("short", ("admin",), expires_at=2000.0)
    sessions = SessionStore(db)
    cookie, session = sessions.start(short, now=1000.0)
    assert session.expires_at == 2000.0  # never past the token's own expiry
    assert sessions.find(cookie, now=1999.0) is not None
    assert sessions.find(cookie, now=2000.0) is None
    long, _ = tokens.create("long", ("admin",))
    cookie, _ = sessions.start(long, now=1000.0)
    assert sessions.find(cookie, now=1000.0 + SESSION_HOURS * 3600 + 1) is None
    cookie, _ = sessions.start(long, now=5000.0)
    tokens.revoke("long")
    assert sessions.find(cookie, now=5001.0) is None
    assert db.conn.execute("SELECT COUNT(*) FROM sessions WHERE token_id=?", (long.id,)).fetchone()[0] == 0


def test_the_csrf_check_wants_the_sessions_own_secret(db: StateDB) -> None:
    token, _ = TokenStore(db).create("ann", ("admin",))
    _, session = SessionStore(db).start(token)
    assert session.csrf_ok(session.csrf)
    assert not session.csrf_ok(None) and not session.csrf_ok("") and not session.csrf_ok(session.csrf + "x")


def test_a_token_keeps_its_newest_sessions_only(db: StateDB) -> None:
    token, _ = TokenStore(db).create("ann", ("read",))
    other, _ = TokenStore(db).create("bob", ("read",))
    sessions = SessionStore(db)
    bobs, _ = sessions.start(other, now=999.0)
    cookies = [sessions.start(token, now=1000.0 + n, keep=10)[0] for n in range(300)]
    assert db.conn.execute("SELECT COUNT(*) FROM sessions WHERE token_id=?", (token.id,)).fetchone()[0] == 10
    assert sessions.find(cookies[0], now=2000.0) is None  # the oldest ended
    assert all(sessions.find(c, now=2000.0) is not None for c in cookies[-10:])
    assert sessions.find(bobs, now=2000.0) is not None  # another token's are its own
