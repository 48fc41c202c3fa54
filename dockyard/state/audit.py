"""The audit log: every change, who made it, from where, and how it ended; rows chained by hash.

Each row's hash is an HMAC (a key kept beside the secret key, out of the database) of its fields
and the previous row's hash, and the last one is kept beside the key too (state/audit_key.py). So
`verify` detects a changed row, a deleted row (in the middle or at the end), a reordering, a
recomputed chain and a log swapped for an older copy, even by someone who can write state.db.
Rows written before the key existed keep their plain SHA-256. Values never enter the log: config
changes name their keys only.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from dockyard.state.audit_key import AuditKey, Head, keyed_hash
from dockyard.state.db import StateDB
from dockyard.state.store import StateTables
from dockyard.vocabulary import absent, rfc3339

GENESIS = "0" * 64
FIELDS = ("at", "actor", "source", "action", "target", "outcome", "detail")


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: float
    actor: str
    source: str
    action: str
    target: str
    outcome: str
    detail: str
    prev: str
    hash: str

    def as_json(self) -> dict[str, object]:
        """The row in the JSON vocabulary (docs/json/audit.schema.json); `audit verify` checks the chain."""
        return {"seq": self.seq, "created_at": rfc3339(self.at, precise=True), "actor": self.actor,
                "source": self.source, "action": self.action, "target": self.target, "outcome": self.outcome,
                "detail": absent(self.detail), "prev": self.prev, "hash": self.hash}


def canonical(prev: str, seq: int, fields: dict[str, object]) -> bytes:
    return json.dumps({"prev": prev, "seq": seq, **{k: fields[k] for k in FIELDS}}, sort_keys=True,
                      separators=(",", ":")).encode()


def row_hash(prev: str, seq: int, fields: dict[str, object], key: bytes | None = None) -> str:
    """The row's HMAC with the audit key; plain SHA-256 for the rows written before there was one."""
    text = canonical(prev, seq, fields)
    return keyed_hash(key, text) if key is not None else hashlib.sha256(text).hexdigest()


def os_actor() -> str:
    """Who runs this process, from the operating system. A name from the environment (DOCKYARD_USER)
    is shown beside it, never instead of it: an environment variable proves nothing."""
    import pwd

    try:
        user = pwd.getpwuid(os.getuid()).pw_name  # not getpass: it believes $USER and $LOGNAME
    except KeyError:
        user = f"uid {os.getuid()}"
    said = os.environ.get("DOCKYARD_USER")
    return f"{user} (as {said})" if said and said != user else user


@dataclass(frozen=True)
class Problem:
    seq: int
    what: str


class AuditLog:
    def __init__(self, db: StateDB, keys: AuditKey | None = None) -> None:
        self.tables = StateTables(db.conn)
        self.keys = keys or AuditKey(db.path)

    def record(self, actor: str, source: str, action: str, target: str, outcome: str, detail: str = "",
               at: float | None = None) -> AuditRow:
        when = time.time() if at is None else at
        fields: dict[str, object] = {"at": when, "actor": actor, "source": source,
                                     "action": action, "target": target, "outcome": outcome[:500],
                                     "detail": detail[:2000]}
        # BEGIN IMMEDIATE: two writers must not both chain onto the same previous row.
        self.tables.begin_immediate()
        try:
            head = self.tables.audit_head()
            seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
            kept = self.keys.head()
            key = self.keys.key(create=True)
            digest = row_hash(prev, seq, fields, key)
            self.tables.add_audit((seq, when, actor, source, action, target, str(fields["outcome"]),
                                   str(fields["detail"]), prev, digest))
            # under the database's write lock, so two writers' heads land in their rows' order
            self.keys.write_head(Head(kept.keyed_from if kept else seq, seq, digest))
            self.tables.commit()
        except BaseException:
            self.tables.rollback()
            raise
        return AuditRow(seq, when, actor, source, action, target, str(fields["outcome"]),
                        str(fields["detail"]), prev, digest)

    def rows(self, since: float | None = None, target: str | None = None, limit: int = 1000) -> list[AuditRow]:
        """Newest first; `target` matches a target or its environment part (app/env, env)."""
        return [AuditRow(*r) for r in self.tables.audit(since or 0.0, target, limit)]

    def all(self) -> Iterator[AuditRow]:
        for r in self.tables.audit_in_order():
            yield AuditRow(*r)

    def verify(self) -> list[Problem]:
        """Every break in the chain; empty when the log is whole."""
        problems: list[Problem] = []
        kept, key = self.keys.head(), self.keys.key(create=False)
        if kept is None and key is not None:
            problems.append(Problem(0, f"its head ({self.keys.head_path}) is missing: the log cannot be checked "
                                    "against rows deleted at the end or an older copy"))
        keyed_from = kept.keyed_from if kept else (1 if key is not None else 0)
        if keyed_from and key is None:
            problems.append(Problem(keyed_from, f"the audit key {self.keys.key_path} is missing: rows from "
                                    f"{keyed_from} on cannot be checked"))
        prev, expected_seq = GENESIS, 1
        for row in self.all():
            if row.seq != expected_seq:
                problems.append(Problem(row.seq, f"rows {expected_seq}..{row.seq - 1} are missing"))
            if row.prev != prev:
                problems.append(Problem(row.seq, "does not follow the row before it (deleted or reordered rows)"))
            keyed = bool(keyed_from) and row.seq >= keyed_from
            if not (keyed and key is None) and row_hash(row.prev, row.seq, asdict(row), key if keyed else None) \
                    != row.hash:
                problems.append(Problem(row.seq, "was changed after it was written (or its chain recomputed)"))
            prev, expected_seq = row.hash, row.seq + 1
        last = expected_seq - 1
        if kept is not None and (kept.seq, kept.hash) != (last, prev):
            problems.append(Problem(kept.seq, f"the log ends at row {last}, but its head says {kept.seq}"
                                    + (" (rows deleted at the end)" if kept.seq > last else
                                       " (a log that is not the one the head was written with)")))
        head = self.tables.audit_head()
        if kept is None and head is not None and (head[0], head[1]) != (last, prev):
            problems.append(Problem(head[0], f"the log ends at row {last} but its last row was {head[0]} "
                                    "(rows deleted at the end)"))
        return problems


@contextmanager
def audited(db: StateDB, actor: str, source: str, action: str, target: str, detail: str = "") -> Iterator[None]:
    """Record the action with its outcome: `ok`, or `failed: <the error's message>`."""
    log = AuditLog(db)
    try:
        yield
    except BaseException as exc:
        message = getattr(exc, "message", None) or type(exc).__name__
        log.record(actor, source, action, target, f"failed: {message}", detail)
        raise
    log.record(actor, source, action, target, "ok", detail)
