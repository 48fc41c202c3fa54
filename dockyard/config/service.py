"""The config service: what the CLI and the deployer call. Stores hold ciphertext; this
layer encrypts, decrypts, merges scopes and masks secrets.

resolve(env, app) = the env's shared keys overlaid with the app's own keys (the app wins),
read at one store revision so (image digest, config revision) names a release exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dockyard.config.files import dump_yaml, parse_file
from dockyard.config.secrets import MASK, SecretBox, key_file_path
from dockyard.config.store import (
    Change,
    ConfigStore,
    StoredValue,
    check_key,
    scope_label,
)
from dockyard.config.stores import open_default_store
from dockyard.errors import ConfigError, MissingConfigError, NotFound
from dockyard.vocabulary import rfc3339

MAX_VALUE_BYTES = 64 * 1024  # a config value is a setting, not a file: keeps history and diffs fast


def secret_context(env: str, app: str | None, key: str) -> str:
    """What a secret's ciphertext is bound to: copied to another env, app or key, it is refused."""
    return f"{env}/{app or '*'}/{key}"


@dataclass(frozen=True, repr=False)
class ResolvedConfig:
    env: str
    app: str | None
    revision: int
    values: Mapping[str, str]  # decrypted
    secret_keys: frozenset[str]
    sources: Mapping[str, Literal["shared", "app"]]

    def plain_values(self) -> dict[str, str]:
        """Every value decrypted (secrets included): for the container's env and templates."""
        return dict(self.values)

    def secret_values(self) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if k in self.secret_keys}

    def display(self, reveal: bool = False) -> dict[str, str]:
        return {k: v if reveal or k not in self.secret_keys else MASK for k, v in self.values.items()}

    def __repr__(self) -> str:  # never leak a secret into a log line or a traceback
        return f"ResolvedConfig({self.env!r}, {self.app!r}, revision={self.revision}, {self.display()!r})"


def missing_required(resolved: ResolvedConfig, required: Sequence[str]) -> list[str]:
    """Every required key that is absent, in the order given (all of them, not the first)."""
    return [key for key in dict.fromkeys(required) if key not in resolved.values]


@dataclass(frozen=True)
class DiffEntry:
    key: str
    change: Literal["added", "removed", "changed"]  # seen from env_a to env_b
    a: str | None
    b: str | None
    secret: bool


@dataclass(frozen=True)
class Written:
    revision: int  # the new revision, or the current one when nothing changed
    changed: list[str]
    unchanged: list[str]


class ConfigService:
    def __init__(self, store: ConfigStore, box: SecretBox | None = None) -> None:
        self.store = store
        self.box = box or SecretBox()

    missing_required = staticmethod(missing_required)

    def close(self) -> None:
        self.store.close()

    def _plain(self, env: str, app: str | None, key: str, item: StoredValue) -> str:
        if not item.secret:
            return item.value
        return self.box.decrypt(item.value, what=f"secret {key} of {scope_label(env, app)}",
                                context=secret_context(env, app, key))

    def resolve(
        self, env: str, app: str | None, revision: int | None = None, decrypt: bool = True
    ) -> ResolvedConfig:
        """decrypt=False leaves secrets as *** so listing needs no key (and touches no plaintext)."""
        rev = self.store.current_revision() if revision is None else revision
        merged: dict[str, tuple[StoredValue, Literal["shared", "app"]]] = {}
        merged.update((k, (v, "shared")) for k, v in self.store.snapshot(env, None, rev).items())
        if app is not None:
            merged.update((k, (v, "app")) for k, v in self.store.snapshot(env, app, rev).items())
        values = {}
        for key, (item, source) in sorted(merged.items()):
            if item.secret and not decrypt:
                values[key] = MASK
            else:
                values[key] = self._plain(env, app if source == "app" else None, key, item)
        return ResolvedConfig(
            env=env,
            app=app,
            revision=rev,
            values=values,
            secret_keys=frozenset(k for k, (item, _) in merged.items() if item.secret),
            sources={k: source for k, (_, source) in sorted(merged.items())},
        )

    def require(
        self, env: str, app: str, required: Sequence[str], revision: int | None = None
    ) -> ResolvedConfig:
        """resolve() that raises MissingConfigError listing every missing required key."""
        resolved = self.resolve(env, app, revision)
        missing = missing_required(resolved, required)
        if missing:
            raise MissingConfigError(app, env, missing)
        return resolved

    def get(self, env: str, app: str | None, key: str, reveal: bool = False) -> tuple[str, bool]:
        """(value, secret) of the key as the app sees it; the value is masked unless reveal."""
        check_key(key)
        resolved = self.resolve(env, app, decrypt=reveal)
        if key not in resolved.values:
            raise NotFound(
                f"{scope_label(env, app)}: no key {key}", hint=f"list keys: dockyard config ls {env}"
            )
        return resolved.display(reveal)[key], key in resolved.secret_keys

    def write(self, env: str, app: str | None, items: Mapping[str, tuple[str, bool]], author: str) -> Written:
        """Set (value, secret) per key atomically; keys already holding that value are skipped."""
        if not items:
            raise ConfigError("nothing to set: no keys given")
        current = self.store.snapshot(env, app)
        changed: list[str] = []
        unchanged: list[str] = []
        for key, (value, secret) in sorted(items.items()):
            old = current.get(key)
            same = old is not None and old.secret == secret and self._plain(env, app, key, old) == value
            (unchanged if same else changed).append(key)
        if not changed:
            return Written(self.store.current_revision(), [], unchanged)
        stored = {}
        for key in changed:
            value, secret = items[key]
            if len(value.encode()) > MAX_VALUE_BYTES:
                raise ConfigError(f"{key}: the value is {len(value.encode()) // 1024} KiB; values are capped at "
                                  f"{MAX_VALUE_BYTES // 1024} KiB", hint="keep large files in the repository "
                                  "(config.files) or a volume, and their address here")
            stored[key] = StoredValue(self.box.encrypt(value, secret_context(env, app, key)) if secret else value,
                                      secret)
        return Written(self.store.set_many(env, app, stored, author), changed, unchanged)

    def set(
        self, env: str, app: str | None, values: Mapping[str, str], author: str, secret: bool = False
    ) -> Written:
        return self.write(env, app, {k: (v, secret) for k, v in values.items()}, author)

    def delete(self, env: str, app: str | None, keys: Sequence[str], author: str) -> int:
        return self.store.delete_many(env, app, keys, author)

    def diff(self, env_a: str, env_b: str, app: str | None, reveal: bool = False) -> list[DiffEntry]:
        rev = self.store.current_revision()
        a, b = self.resolve(env_a, app, rev), self.resolve(env_b, app, rev)
        entries = []
        for key in sorted(set(a.values) | set(b.values)):
            secret = key in a.secret_keys or key in b.secret_keys
            va, vb = a.values.get(key), b.values.get(key)
            if (
                va is not None
                and vb is not None
                and va == vb
                and (key in a.secret_keys) == (key in b.secret_keys)
            ):
                continue
            change: Literal["added", "removed", "changed"] = (
                "added" if va is None else "removed" if vb is None else "changed"
            )
            mask = secret and not reveal
            entries.append(
                DiffEntry(
                    key,
                    change,
                    MASK if mask and va is not None else va,
                    MASK if mask and vb is not None else vb,
                    secret,
                )
            )
        return entries

    def revision_diff(self, env: str, app: str, old: int, new: int) -> list[DiffEntry]:
        """What the app saw change in env from config revision `old` to `new` (two releases' revisions).
        Secrets stay *** on both sides: a changed one is told by its stored ciphertext, never decrypted
        (so a secret set again to the same value shows as changed)."""
        before, after = self._stored(env, app, old), self._stored(env, app, new)
        entries = []
        for key in sorted(set(before) | set(after)):
            a, b = before.get(key), after.get(key)
            if a == b:
                continue
            secret = bool((a and a.secret) or (b and b.secret))
            change: Literal["added", "removed", "changed"] = "added" if a is None else "removed" if b is None \
                else "changed"
            entries.append(DiffEntry(key, change, _masked(a, secret), _masked(b, secret), secret))
        return entries

    def _stored(self, env: str, app: str, revision: int) -> dict[str, StoredValue]:
        merged = dict(self.store.snapshot(env, None, revision))
        merged.update(self.store.snapshot(env, app, revision))
        return merged

    def _show(self, c: Change, item: StoredValue | None, reveal: bool) -> str | None:
        if item is None:
            return None
        return self._plain(c.env, c.app, c.key, item) if reveal or not item.secret else MASK

    def history(
        self, env: str, apps: Sequence[str | None] | None = None, key: str | None = None, reveal: bool = False
    ) -> list[dict[str, Any]]:
        """JSON-ready history rows, newest first; secret values masked unless reveal."""
        rows = []
        for c in self.store.history(env, apps, key):
            rows.append(
                {
                    "revision": c.revision,
                    "env": c.env,
                    "app": c.app,
                    "key": c.key,
                    "action": c.action,
                    "secret": c.secret,
                    "old": self._show(c, c.old, reveal),
                    "new": self._show(c, c.new, reveal),
                    "actor": c.author,
                    "created_at": rfc3339(c.timestamp),
                }
            )
        return rows

    def import_file(
        self, path: Path, env: str, app: str | None, author: str, secret_keys: Sequence[str] = ()
    ) -> Written:
        """Validate the whole file first; then one atomic change. Keys not in the file stay."""
        parsed = parse_file(path)
        for key in secret_keys:
            if key not in parsed.values:
                parsed.problems.append(f"{parsed.name}: --secret {key}: no such key in the file")
            parsed.secrets.add(key)
        for key in sorted(parsed.secrets & set(parsed.values)):
            if parsed.values[key] == MASK:
                parsed.problems.append(
                    f"{parsed.name}:{parsed.lines[key]}: {key}: the secret is masked ({MASK}); "
                    "export with --reveal to copy secrets"
                )
        parsed.raise_problems()
        if not parsed.values:
            raise ConfigError(f"{parsed.name}: no keys to import")
        items = {k: (v, k in parsed.secrets) for k, v in parsed.values.items()}
        return self.write(env, app, items, author)

    def export_values(self, env: str, app: str | None, reveal: bool = False
                      ) -> tuple[int, dict[str, str], dict[str, str]]:
        """(revision, plain values, secrets masked unless reveal) of the scope's own keys (not merged)."""
        rev = self.store.current_revision()
        snap = self.store.snapshot(env, app, rev)
        values = {k: v.value for k, v in snap.items() if not v.secret}
        secrets = {k: self._plain(env, app, k, v) if reveal else MASK for k, v in snap.items() if v.secret}
        return rev, values, secrets

    def export_yaml(self, env: str, app: str | None, reveal: bool = False) -> str:
        """The scope's own keys (not merged) as YAML; with reveal it imports back unchanged."""
        rev, values, secrets = self.export_values(env, app, reveal)
        header = f"dockyard config export: {scope_label(env, app)} at revision {rev}"
        if secrets and not reveal:
            header += f"\nsecrets are masked ({MASK}): export with --reveal to import them elsewhere"
        return dump_yaml(values, secrets, header)


def _masked(item: StoredValue | None, secret: bool) -> str | None:
    if item is None:
        return None
    return MASK if secret else item.value


def secret_key_file() -> Path:
    """Where the secrets' key file is (or would be): others name it in what they show, never read it."""
    return key_file_path()


def open_config_service() -> ConfigService:
    """The service on the site's store (DOCKYARD_CONFIG_STORE or settings) and key."""
    return ConfigService(open_default_store())
