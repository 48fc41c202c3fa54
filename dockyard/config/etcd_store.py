"""EtcdStore: the ConfigStore on etcd, through its v3 JSON gateway (etcd3gw).

Layout under the prefix (default /dockyard/):
  rev                          the store revision counter (a decimal string)
  snap/<env>/<scope>/<rev>     the whole scope as JSON after the change at <rev>
  hist/<env>/<scope>/<rev>     that change: author, time, and each key's old/new value
  envs/<env>                   marks an environment as known
Revisions are zero-padded so key order is numeric order: a snapshot at R is one range read
(newest snap key <= R). We keep our own history instead of etcd's MVCC revisions because
etcd compaction would silently drop the config an old release needs for rollback. A change
is one transaction of a fixed number of operations (etcd allows 128 by default) whatever
the number of keys, guarded by the counter's mod_revision so concurrent writers retry.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from etcd3gw.client import Etcd3Client
from etcd3gw.exceptions import Etcd3Exception
from etcd3gw.utils import _encode, _increment_last_byte

from dockyard.config.store import (
    SHARED,
    Change,
    Planned,
    StoredValue,
    app_of,
    check_key,
    check_name,
    check_revision,
    check_scope,
    plan_delete,
    plan_set,
)
from dockyard.errors import StoreUnavailable

if TYPE_CHECKING:
    from dockyard.settings_model import EtcdSettings

T = TypeVar("T")
_RETRIES = 20


def _pad(rev: int) -> str:
    return f"{rev:012d}"


def _sv(raw: dict[str, Any] | None) -> StoredValue | None:
    return None if raw is None else StoredValue(raw["value"], bool(raw["secret"]))


def _raw(item: StoredValue | None) -> dict[str, Any] | None:
    return None if item is None else {"value": item.value, "secret": item.secret}


@dataclass(frozen=True)
class EtcdAccess:
    """How to reach a site's etcd that runs with TLS and client certificates, and as which user
    (etcd's auth: a role per prefix, so Dockyard's user reads and writes its own prefix only)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)


def access_from(etcd: EtcdSettings | None) -> EtcdAccess:
    """EtcdAccess from the site's EtcdSettings (None: plain http, no user)."""
    if etcd is None:
        return EtcdAccess()
    password = None
    if etcd.password_file:
        try:
            password = Path(etcd.password_file).read_text().strip()
        except OSError as exc:
            raise StoreUnavailable(f"etcd password file {etcd.password_file}: {exc.strerror}") from exc
    return EtcdAccess(ca=etcd.ca, cert=etcd.cert, key=etcd.key, user=etcd.user, password=password)


class EtcdStore:
    def __init__(self, host: str, port: int, prefix: str = "/dockyard/", timeout: float = 5.0,
                 access: EtcdAccess | None = None) -> None:
        self.host, self.port = host, port
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.access = access or EtcdAccess()
        tls = bool(self.access.ca or self.access.cert)
        # api_path given: skip the /version discovery round trip (etcd >= 3.4 serves /v3/)
        self._client = Etcd3Client(host=host, port=port, timeout=timeout, api_path="/v3/",
                                   protocol="https" if tls else "http", ca_cert=self.access.ca,
                                   cert_cert=self.access.cert, cert_key=self.access.key)
        # Not the environment's proxies or CA bundle: REQUESTS_CA_BUNDLE would replace the etcd CA given here.
        self._client.session.trust_env = False
        if self.access.user:
            self._authenticate()

    def _authenticate(self) -> None:
        """A simple token for the user, sent with every request; asked again when it expires."""
        body = {"name": self.access.user, "password": self.access.password or ""}
        got = self._call(self._client.post, self._client.get_url("/auth/authenticate"), json=body)
        self._client.session.headers["Authorization"] = got["token"]

    def _call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        try:
            return self._call_once(fn, *args, **kw)
        except StoreUnavailable as exc:
            if self.access.user and "token" in exc.message and fn != self._client.post:
                self._authenticate()  # etcd's simple tokens expire when idle (--auth-token-ttl)
                return self._call_once(fn, *args, **kw)
            raise

    def _call_once(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        # Translate every transport/gateway failure at the boundary; ValueError covers a
        # non-etcd server answering on the port with something that is not JSON.
        try:
            return fn(*args, **kw)
        except (Etcd3Exception, ValueError) as exc:
            detail = getattr(exc, "detail_text", None) or str(exc) or type(exc).__name__
            errno = re.search(r"\[Errno -?\d+\] ([^\"')]+)", detail)  # requests' repr is long
            detail = errno.group(1) if errno else detail[:300]
            if "permission denied" in detail or "authentication failed" in detail:
                raise StoreUnavailable(
                    f"etcd at {self.host}:{self.port} refused user {self.access.user or '(none)'} on "
                    f"{self.prefix}: {detail}", hint="grant the user's role read and write on that prefix "
                    "(docs/config.md), or use the prefix it was given") from exc
            raise StoreUnavailable(
                f"etcd at {self.host}:{self.port} is not reachable: {detail}",
                hint="start etcd there, or choose another store with DOCKYARD_CONFIG_STORE "
                "(etcd://HOST:PORT or sqlite:///PATH.db)",
            ) from exc

    def _k(self, *parts: str) -> str:
        return self.prefix + "/".join(parts)

    def _range(self, start: str, end: str, **kw: Any) -> list[tuple[bytes, dict[str, Any]]]:
        got = self._call(self._client.get, start, metadata=True, range_end=end, **kw)
        return cast(list[tuple[bytes, dict[str, Any]]], got)

    def _prefix(self, prefix: str) -> list[tuple[bytes, dict[str, Any]]]:
        return self._range(prefix, _increment_last_byte(prefix), sort_order="ascend", sort_target="key")

    def _counter(self) -> tuple[int, int]:
        """(store revision, etcd mod_revision of the counter key; 0 when it does not exist)."""
        got = self._range(self._k("rev"), _increment_last_byte(self._k("rev")))
        if not got:
            return 0, 0
        value, meta = got[0]
        return int(value), int(meta["mod_revision"])

    def _latest_snap(self, env: str, scope: str, upto: int | None = None) -> dict[str, StoredValue]:
        base = self._k("snap", env, scope) + "/"
        end = base + _pad(upto + 1) if upto is not None else _increment_last_byte(base)
        got = self._range(base, end, sort_order="descend", sort_target="key", limit=1)
        if not got:
            return {}
        return {key: StoredValue(v["value"], v["secret"]) for key, v in json.loads(got[0][0]).items()}

    def _change(
        self, env: str, app: str | None, plan: Callable[[dict[str, StoredValue]], Planned], author: str
    ) -> int:
        scope = check_scope(env, app)
        for _ in range(_RETRIES):
            rev, mod = self._counter()
            current = self._latest_snap(env, scope)
            planned = plan(current)
            new_rev = rev + 1
            after = dict(current)
            for key, _old, new in planned:
                if new is None:
                    after.pop(key, None)
                else:
                    after[key] = new
            record = {
                "author": author,
                "ts": time.time(),
                "changes": [{"key": k, "old": _raw(o), "new": _raw(n)} for k, o, n in planned],
            }
            snap = {k: _raw(v) for k, v in sorted(after.items())}
            puts = [
                (self._k("rev"), str(new_rev)),
                (self._k("snap", env, scope, _pad(new_rev)), json.dumps(snap)),
                (self._k("hist", env, scope, _pad(new_rev)), json.dumps(record)),
                (self._k("envs", env), ""),
            ]
            txn = {
                "compare": [
                    {"key": _encode(self._k("rev")), "result": "EQUAL", "target": "MOD", "mod_revision": mod}
                ],
                "success": [{"request_put": {"key": _encode(k), "value": _encode(v)}} for k, v in puts],
                "failure": [],
            }
            result = self._call(self._client.transaction, txn)
            if result.get("succeeded"):
                return new_rev
            # another writer moved the counter between our read and our write: re-read, retry
        raise StoreUnavailable(
            f"etcd at {self.host}:{self.port}: too many concurrent config writers, gave up"
        )

    def set_many(self, env: str, app: str | None, items: Mapping[str, StoredValue], author: str) -> int:
        return self._change(env, app, lambda cur: plan_set(cur, items, author), author)

    def delete_many(self, env: str, app: str | None, keys: Sequence[str], author: str) -> int:
        return self._change(env, app, lambda cur: plan_delete(env, app, cur, keys, author), author)

    def get(self, env: str, app: str | None, key: str) -> StoredValue | None:
        check_key(key)
        return self._latest_snap(env, check_scope(env, app)).get(key)

    def snapshot(self, env: str, app: str | None, revision: int | None = None) -> dict[str, StoredValue]:
        scope = check_scope(env, app)
        if revision is None:
            return self._latest_snap(env, scope)
        check_revision(revision, self.current_revision())
        return self._latest_snap(env, scope, upto=revision)

    def history(
        self, env: str, apps: Sequence[str | None] | None = None, key: str | None = None
    ) -> list[Change]:
        check_name("environment", env)
        if key is not None:
            check_key(key)
        scopes = None if apps is None else {check_scope(env, app) for app in apps}
        base = self._k("hist", env) + "/"
        changes: list[Change] = []
        for value, meta in self._prefix(base):
            scope, _, rev = meta["key"].decode()[len(base) :].rpartition("/")
            if scopes is not None and scope not in scopes:
                continue
            record = json.loads(value)
            for item in record["changes"]:
                if key is None or item["key"] == key:
                    changes.append(
                        Change(
                            int(rev),
                            env,
                            app_of(scope),
                            item["key"],
                            _sv(item["old"]),
                            _sv(item["new"]),
                            record["author"],
                            record["ts"],
                        )
                    )
        changes.sort(key=lambda c: (-c.revision, c.key))  # one revision touches one scope
        return changes

    def current_revision(self) -> int:
        return self._counter()[0]

    def environments(self) -> list[str]:
        base = self._k("envs") + "/"
        got = self._range(base, _increment_last_byte(base), keys_only=True)
        return sorted(meta["key"].decode()[len(base) :] for _, meta in got)

    def apps(self, env: str) -> list[str]:
        base = self._k("hist", check_name("environment", env)) + "/"
        got = self._range(base, _increment_last_byte(base), keys_only=True)
        names = {meta["key"].decode()[len(base) :].rpartition("/")[0] for _, meta in got}
        return sorted(names - {SHARED})

    def close(self) -> None:
        self._client.session.close()
