"""The two steps only a preview's runs have (issue 33): its preparation before the deploy, and its
take-down.

Prepare, the first time: the configuration of `previews.from` copied into pr-N, then
`previews.config` over it. A pull request from a fork gets none of its secrets unless the site allows
it for the app (`dockyard app policy APP --fork-secrets`): each secret key is set empty instead, so
the app starts and the key's value never reaches the preview. Then each accessory: with `data:
snapshot`, the latest backup of the `from` environment's accessory is restored into the preview's own
(not for a fork without secrets: a database holds what secrets guard), then booted. Later updates
keep the preview's configuration and data, and boot what is not running.

Take down: `down --purge` of pr-N (containers, accessories and their volumes, names, certificates,
releases), then its configuration.
"""

from __future__ import annotations

from collections.abc import Callable

from dockyard import settings
from dockyard.backup.service import Backups
from dockyard.backup.stores import open_store
from dockyard.build.git import Commit
from dockyard.config.service import ConfigService
from dockyard.deploy.accessories import Accessories
from dockyard.deploy.teardown import tear_down
from dockyard.errors import DockyardError
from dockyard.pipeline.preview_store import PreviewRow, PreviewStore
from dockyard.spec import AppSpec
from dockyard.state.db import StateDB
from dockyard.vocabulary import preview_number

Log = Callable[[str], None]


class PreviewFailed(DockyardError):
    """A preview could not be prepared: the step fails with this message."""


def _row(db: StateDB, spec: AppSpec, env: str) -> PreviewRow:
    number = preview_number(env)
    row = PreviewStore(db).get(spec.app, number) if number is not None else None
    if row is None or spec.previews is None:
        raise PreviewFailed(f"{spec.app} has no preview {env}")
    return row


def with_secrets(row: PreviewRow) -> bool:
    return row.trusted or settings.load().policy(row.app).fork_secrets


def copy_config(config: ConfigService, spec: AppSpec, env: str, secrets: bool, log: Log) -> None:
    """`previews.from`'s configuration, then `previews.config`, into the preview's own."""
    assert spec.previews is not None
    source = config.resolve(spec.previews.source, spec.app)
    withheld = sorted(source.secret_keys) if not secrets else []
    items = {key: ("" if key in withheld else value, key in source.secret_keys and key not in withheld)
             for key, value in source.values.items()}
    items.update({key: (value, False) for key, value in spec.previews.config.items()})
    if items:
        written = config.write(env, spec.app, items, author=f"preview {env}")
        log(f"configuration of {spec.previews.source} copied into {env} ({len(items)} keys, "
            f"revision {written.revision})")
    if withheld:
        log(f"a fork's pull request: its secrets are withheld, set empty: {', '.join(withheld)}")


def seed_accessories(config: ConfigService, spec: AppSpec, env: str, row: PreviewRow, commit: Commit,
                     log: Log) -> None:
    """Each accessory of the preview booted; with `data: snapshot`, first filled from `from`'s latest backup."""
    assert spec.previews is not None
    names = list(spec.accessories_of(env))
    if not names:
        return
    accessories = Accessories(spec, config, log, commit=commit)
    snapshot = spec.previews.data == "snapshot" and not row.seeded
    if snapshot and not with_secrets(row):
        log("a fork's pull request: its accessories start empty (a snapshot of "
            f"{spec.previews.source} holds what its secrets guard)")
        snapshot = False
    if snapshot:
        backups = Backups(spec, open_store(settings.backup_settings()), config, log, by=f"preview {env}",
                          commit=commit)
        for name in names:
            if accessories.exists(env, name):
                continue  # seeded by an earlier try that failed after it
            found = backups.ls(spec.previews.source, name)
            if not found:
                raise PreviewFailed(f"previews.data is snapshot, but {spec.previews.source} has no backup of {name}",
                                    hint=f"take one: dockyard backup create {spec.previews.source} {name}")
            backups.restore(env, name, found[0].id, source_env=spec.previews.source)
    for name in names:
        accessories.boot(env, name)


def prepare(db: StateDB, config: ConfigService, spec: AppSpec, env: str, commit: Commit, log: Log) -> None:
    row = _row(db, spec, env)
    if not row.seeded:
        copy_config(config, spec, env, with_secrets(row), log)
    seed_accessories(config, spec, env, row, commit, log)
    PreviewStore(db).mark_seeded(spec.app, row.number)
    if not row.trusted:
        log(f"{env} is untrusted: the pull request comes from a fork")


def take_down(db: StateDB, config: ConfigService, spec: AppSpec, env: str, log: Log) -> None:
    tear_down(spec, env, db, log, purge=True, by=f"preview {env}")
    keys = list(config.resolve(env, spec.app, decrypt=False).values)
    if keys:
        config.delete(env, spec.app, keys, author=f"preview {env}")
        log(f"deleted the configuration of {env} ({len(keys)} keys)")
