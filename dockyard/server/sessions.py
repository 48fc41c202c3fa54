"""The dashboard's log-in sessions: a token presented once at /login gives a random session id, sent
back as an HttpOnly, SameSite=Strict cookie (Secure over TLS).

Only the id's SHA-256 is stored, beside the token it stands for and the session's CSRF secret.
Each request looks the token up again, so a session ends with its token: revoked or expired, the
next page asks to log in. A session also ends after SESSION_HOURS, or at log-out, or when its
token starts more than MAX_SESSIONS (the oldest ends first): log-ins cannot pile up sessions.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from dockyard.server.auth import Token, TokenStore, token_hash
from dockyard.server.store import SessionTable
from dockyard.state.db import StateDB

COOKIE = "dockyard_session"
SESSION_HOURS = 12.0
MAX_SESSIONS = 10  # per token; settings.yml server.sessions_per_token


@dataclass(frozen=True)
class Session:
    token: Token
    csrf: str
    expires_at: float

    def csrf_ok(self, presented: str | None) -> bool:
        """Whether a form carried this session's CSRF secret (compared in constant time)."""
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf.encode())


class SessionStore:
    def __init__(self, db: StateDB) -> None:
        self.table = SessionTable(db)
        self.tokens = TokenStore(db)

    def start(self, token: Token, now: float | None = None, keep: int = MAX_SESSIONS) -> tuple[str, Session]:
        """A new session for a verified token: (the cookie's value, the session). It lasts
        SESSION_HOURS, or until the token expires if that comes first; the token's sessions past
        the newest `keep` end."""
        now = time.time() if now is None else now
        expires = now + SESSION_HOURS * 3600
        if token.expires_at is not None:
            expires = min(expires, token.expires_at)
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.table.start(token_hash(session_id), token.id, csrf, now, expires, max(1, keep))
        return session_id, Session(token, csrf, expires)

    def find(self, session_id: str | None, now: float | None = None) -> Session | None:
        """The session of a cookie, when it and its token are both still valid."""
        if not session_id:
            return None
        now = time.time() if now is None else now
        row = self.table.find(token_hash(session_id))
        if row is None or row[2] <= now:
            return None
        token = self.tokens.by_id(row[0])
        if token is None or token.expired(now):
            return None
        return Session(token, row[1], row[2])

    def end(self, session_id: str | None) -> None:
        if session_id:
            self.table.end(token_hash(session_id))
