"""The ConfigStore protocol and its value types (stores.py opens one from its URL).

Data model: a scope is (env, app); app=None is the environment's SHARED scope that every
app of that environment inherits. Every change gets a store-wide, monotonically increasing
integer revision, so a release can pin (image digest, config revision) and a rollback can
restore the config exactly as it was (`snapshot(env, app, revision)`).

Stores are dumb about secrets: a secret's `value` is already ciphertext (see secrets.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from dockyard.errors import ConfigError, NotFound

SHARED = "_shared"  # the scope name of app=None; app names cannot start with "_"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,252}$")


@dataclass(frozen=True)
class StoredValue:
    value: str  # plaintext, or Fernet ciphertext when secret
    secret: bool = False


@dataclass(frozen=True)
class Change:
    """One key's change in one revision. old/new None means absent before/after."""

    revision: int
    env: str
    app: str | None
    key: str
    old: StoredValue | None
    new: StoredValue | None
    author: str
    timestamp: float  # seconds since the epoch, UTC

    @property
    def secret(self) -> bool:
        return bool((self.old and self.old.secret) or (self.new and self.new.secret))

    @property
    def action(self) -> str:
        if self.old is None:
            return "added"
        return "deleted" if self.new is None else "changed"


@runtime_checkable
class ConfigStore(Protocol):
    def set_many(self, env: str, app: str | None, items: Mapping[str, StoredValue], author: str) -> int:
        """Set all keys in one atomic change; returns the new revision."""
        ...

    def delete_many(self, env: str, app: str | None, keys: Sequence[str], author: str) -> int:
        """Delete all keys atomically; any missing key -> NotFound and nothing is deleted."""
        ...

    def get(self, env: str, app: str | None, key: str) -> StoredValue | None: ...

    def snapshot(self, env: str, app: str | None, revision: int | None = None) -> dict[str, StoredValue]:
        """The scope's own keys as they were at `revision` (default: now)."""
        ...

    def history(
        self, env: str, apps: Sequence[str | None] | None = None, key: str | None = None
    ) -> list[Change]:
        """Changes in env, newest first; `apps` limits scopes (None in it = shared; apps=None = all)."""
        ...

    def current_revision(self) -> int: ...

    def environments(self) -> list[str]: ...

    def apps(self, env: str) -> list[str]: ...

    def close(self) -> None: ...


def check_name(kind: str, name: str) -> str:
    if not _NAME_RE.match(name):
        raise ConfigError(
            f"invalid {kind} name {name!r}",
            hint=f"a {kind} name is 1-63 letters, digits, '_', '.', '-', starting with a letter or digit",
        )
    return name


def check_key(key: str) -> str:
    if not _KEY_RE.match(key):
        raise ConfigError(
            f"invalid configuration key {key!r}",
            hint="a key is letters, digits, '_', '.', '-', starting with a letter or '_' (e.g. DB_HOST)",
        )
    return key


def is_valid_key(key: str) -> bool:
    return bool(_KEY_RE.match(key))


def check_scope(env: str, app: str | None) -> str:
    """Validate the scope and return its storage name."""
    check_name("environment", env)
    return SHARED if app is None else check_name("app", app)


def app_of(scope: str) -> str | None:
    return None if scope == SHARED else scope


def check_revision(revision: int | None, current: int) -> int:
    if revision is None:
        return current
    if revision < 0 or revision > current:
        raise NotFound(f"config revision {revision} does not exist (current revision is {current})")
    return revision


def scope_label(env: str, app: str | None) -> str:
    return f"{env}/{app}" if app is not None else f"{env} (shared)"


Planned = list[tuple[str, StoredValue | None, StoredValue | None]]


def plan_set(current: Mapping[str, StoredValue], items: Mapping[str, StoredValue], author: str) -> Planned:
    """Validate a set_many call against the scope's current values; returns (key, old, new)."""
    if not items:
        raise ConfigError("nothing to set: no keys given")
    if not author:
        raise ConfigError("a change needs an author")
    for key, item in items.items():
        check_key(key)
        if not isinstance(item.value, str):
            raise ConfigError(f"value of {key} must be a string, not {type(item.value).__name__}")
    return [(key, current.get(key), items[key]) for key in sorted(items)]


def plan_delete(
    env: str, app: str | None, current: Mapping[str, StoredValue], keys: Sequence[str], author: str
) -> Planned:
    if not keys:
        raise ConfigError("nothing to delete: no keys given")
    if not author:
        raise ConfigError("a change needs an author")
    wanted = list(dict.fromkeys(keys))
    missing = [key for key in wanted if key not in current]
    if missing:
        raise NotFound(
            f"{scope_label(env, app)}: no such key: {', '.join(missing)} (nothing was deleted)",
            hint=f"list the keys with: dockyard config ls {env}"
            + (" --shared" if app is None else f" --app {app}"),
        )
    return [(key, current[key], None) for key in sorted(wanted)]
