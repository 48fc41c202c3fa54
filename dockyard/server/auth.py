"""API tokens: random, shown once, kept only as their SHA-256 in the state database.

A presented token is hashed and looked up by its hash: what is stored cannot be used as a token,
and the lookup's timing says nothing about any stored token (the attacker does not choose the hash).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from dockyard.errors import NotFound, UsageError
from dockyard.state.db import StateDB

PREFIX = "dy_"


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    created_at: float


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header, or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class TokenStore:
    def __init__(self, db: StateDB) -> None:
        self.conn = db.conn

    def create(self, name: str) -> tuple[Token, str]:
        """A new token: (its record, the token itself, to show once)."""
        name = name.strip()
        if not name:
            raise UsageError("a token needs a name", hint="dockyard token create --name ci")
        token = new_token()
        now = time.time()
        cur = self.conn.execute("INSERT INTO tokens (name, sha256, created_at) VALUES (?,?,?)",
                                (name, token_hash(token), now))
        return Token(int(cur.lastrowid or 0), name, now), token

    def all(self) -> list[Token]:
        return [Token(*r) for r in self.conn.execute("SELECT id, name, created_at FROM tokens ORDER BY id")]

    def revoke(self, which: str) -> list[Token]:
        """Revoke a token by id, or every token of that name; NotFound when none matches."""
        found = [t for t in self.all() if str(t.id) == which or t.name == which]
        if not found:
            raise NotFound(f"no token with id or name {which!r}", hint="dockyard token ls")
        self.conn.executemany("DELETE FROM tokens WHERE id=?", [(t.id,) for t in found])
        return found

    def verify(self, token: str | None) -> Token | None:
        """The token's record when it is valid, else None."""
        if not token:
            return None
        row = self.conn.execute("SELECT id, name, created_at FROM tokens WHERE sha256=?",
                                (token_hash(token),)).fetchone()
        return Token(*row) if row else None
