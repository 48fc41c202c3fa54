"""API tokens: random, shown once, kept only as their SHA-256 in the state database, with scopes
and an expiry.

A presented token is hashed and looked up by its hash: what is stored cannot be used as a token,
and the lookup's timing says nothing about any stored token (the attacker does not choose the hash).

Scopes (every scope can also read):
    read            GET endpoints: apps, environments, releases, configuration (masked), runs
    trigger         start runs (POST /api/runs), cancel runs
    approve         approve a manual gate (never of a run the same token started: four eyes)
    deploy:ENV      rollback (and what deploys next) in ENV; `deploy` alone: every environment
    admin           all of the above, and the audit log
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.errors import NotFound, UsageError
from dockyard.server.store import TokenRow, TokenTable
from dockyard.state.db import StateDB

PREFIX = "dy_"
_SCOPE = re.compile(r"(read|trigger|approve|admin|deploy(:[a-z0-9][a-z0-9-]*)?)")
_DURATION = re.compile(r"(\d+)([mhdw])")
_APP = re.compile(r"[a-z][a-z0-9-]{0,40}")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
LAST_USED_EVERY = 60.0  # seconds: a busy token does not write the database on every request


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    created_at: float
    scopes: tuple[str, ...] = ("admin",)
    expires_at: float | None = None
    last_used_at: float | None = None
    apps: tuple[str, ...] = ()  # the apps it reaches; none named: every app (an admin token always)

    def reaches(self, app: str) -> bool:
        """Whether anything of `app` is this token's to see or touch (issue 28: apps are walls)."""
        return "admin" in self.scopes or not self.apps or app in self.apps

    def allows(self, scope: str, env: str | None = None) -> bool:
        """Whether the token may do what `scope` names (deploy in `env`, for the deploy scope)."""
        have = set(self.scopes)
        if "admin" in have:
            return True
        if scope == "read":
            return True
        if scope == "deploy":
            return "deploy" in have or (env is not None and f"deploy:{env}" in have)
        return scope in have

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


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


def parse_scopes(scopes: Iterable[str], envs: Iterable[str] = ()) -> tuple[str, ...]:
    """`--scope deploy --env staging` gives deploy:staging; `--scope deploy:staging` works too."""
    envs = [e.strip() for e in envs if e.strip()]
    out: list[str] = []
    for raw in scopes:
        for scope in (part.strip() for part in raw.split(",")):
            if not scope:
                continue
            if not _SCOPE.fullmatch(scope):
                raise UsageError(f"unknown scope {scope!r}", hint="scopes: read, trigger, approve, "
                                 "deploy (or deploy:ENV), admin")
            if scope == "deploy" and envs:
                out += [f"deploy:{env}" for env in envs]
            else:
                out.append(scope)
    if envs and not any(s.startswith("deploy") for s in out):
        raise UsageError("--env only narrows the deploy scope", hint="dockyard token create --name N "
                         "--scope deploy --env staging")
    if not out:
        raise UsageError("a token needs at least one scope", hint="--scope read (or trigger, approve, "
                         "deploy --env ENV, admin)")
    return tuple(dict.fromkeys(out))


def parse_expiry(text: str | None, now: float) -> float | None:
    """`30d`, `12h`, `90m`, `2w` from now; None for `never` or nothing."""
    if text is None or text.strip() in ("", "never"):
        return None
    match = _DURATION.fullmatch(text.strip())
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"--expires {text!r} is not a duration", hint="for example 30d, 12h, 90m, 2w or never")
    return now + int(match.group(1)) * _UNITS[match.group(2)]


def _token(row: TokenRow) -> Token:
    return Token(row[0], row[1], row[2], tuple(row[3].split()), row[4], row[5], tuple(row[6].split()))


class TokenStore:
    def __init__(self, db: StateDB) -> None:
        self.table = TokenTable(db)

    def create(self, name: str, scopes: Iterable[str] = ("admin",), expires_at: float | None = None,
               apps: Iterable[str] = ()) -> tuple[Token, str]:
        """A new token: (its record, the token itself, to show once). `apps`: the only apps it reaches."""
        name = name.strip()
        if not name:
            raise UsageError("a token needs a name", hint="dockyard token create --name ci --scope read")
        scopes = tuple(scopes)
        apps = tuple(dict.fromkeys(a.strip() for raw in apps for a in raw.split(",") if a.strip()))
        if apps and "admin" in scopes:
            raise UsageError("an admin token reaches every app: --app narrows the other scopes",
                             hint="dockyard token create --name NAME --scope deploy --app APP")
        bad = [a for a in apps if not _APP.fullmatch(a)]
        if bad:
            raise UsageError(f"--app {bad[0]!r} is not an app name (lowercase letters, digits and '-')")
        token = new_token()
        now = time.time()
        try:
            token_id = self.table.insert(name, token_hash(token), now, " ".join(scopes), expires_at, " ".join(apps))
        except sqlite3.IntegrityError as exc:
            raise UsageError(f"a token named {name!r} exists already; names are unique (they sign approvals)",
                             hint=f"pick another name, or: dockyard token revoke {name}") from exc
        return Token(token_id, name, now, scopes, expires_at, apps=apps), token

    def all(self) -> list[Token]:
        return [_token(r) for r in self.table.all()]

    def by_id(self, token_id: int) -> Token | None:
        row = self.table.by_id(token_id)
        return _token(row) if row else None

    def revoke(self, which: str) -> list[Token]:
        """Revoke a token by id or name; NotFound when none matches."""
        found = [t for t in self.all() if str(t.id) == which or t.name == which]
        if not found:
            raise NotFound(f"no token with id or name {which!r}", hint="dockyard token ls")
        self.table.delete([t.id for t in found])
        return found

    def verify(self, token: str | None, now: float | None = None) -> Token | None:
        """The token's record when it is valid and not expired, else None. Keeps its last use."""
        if not token:
            return None
        row = self.table.by_hash(token_hash(token))
        if row is None:
            return None
        found = _token(row)
        now = time.time() if now is None else now
        if found.expired(now):
            return None
        if found.last_used_at is None or now - found.last_used_at > LAST_USED_EVERY:
            self.table.used(found.id, now)
        return found
