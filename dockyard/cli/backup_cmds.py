"""`dockyard backup create|ls|restore|prune|store`: backups of an environment's accessories and volumes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dockyard.cli.common import JsonOpt, console, load_app_spec, print_json, read_app_brief, result, say

if TYPE_CHECKING:
    from dockyard.backup.plan import Manifest
    from dockyard.backup.service import Backups

backup_app = typer.Typer(help="Backups of an environment's accessories and volumes: create, ls, restore, prune; "
                              "where they are kept: store.\n\nExample: dockyard backup create production db",
                         no_args_is_help=True)

Env = Annotated[str, typer.Argument(help="The environment.")]
Target = Annotated[str, typer.Argument(help="An accessory (db), or a service's volume (web/data).")]


def _backups(quiet: bool = False) -> Backups:
    """The service; `quiet` (--json) keeps its progress lines off stdout, on stderr."""
    from dockyard import settings
    from dockyard.backup.service import Backups
    from dockyard.backup.stores import open_store
    from dockyard.cli.common import err_console
    from dockyard.config.service import open_config_service

    report = (lambda line: err_console.print(line, highlight=False, markup=False)) if quiet else say
    return Backups(load_app_spec(), open_store(settings.backup_settings()), open_config_service(), report,
                   by=settings.author())


def manifest_json(m: Manifest) -> dict[str, Any]:
    """A backup in the JSON vocabulary (docs/json/backup.schema.json)."""
    from dockyard.vocabulary import rfc3339

    return {"backup_id": m.id, "app": m.app, "env": m.env, "target": m.target, "kind": m.kind,
            "volumes": list(m.volumes), "created_at": rfc3339(m.created_at), "actor": m.by or None,
            "size": m.size, "raw_size": m.raw_size, "sha256": m.sha256}


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@backup_app.command()
def create(env: Env, target: Target, as_json: JsonOpt = False) -> None:
    """Back up TARGET of ENV now: an accessory's dump (or its volumes, paused while copied), or a
    service's volume (its containers paused while copied); compressed, with a checksum.

    Example: dockyard backup create production db
    """
    manifest = _backups(quiet=as_json).create(env, target)
    result(as_json, manifest_json(manifest), f"{manifest.id} {_size(manifest.size)} sha256:{manifest.sha256[:16]}")


@backup_app.command("ls")
def ls(
    env: Env,
    target: Annotated[str | None, typer.Argument(help="Only this accessory or SERVICE/VOLUME.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List ENV's backups, newest first.

    Example: dockyard backup ls production db
    """
    import datetime as dt

    from rich.table import Table

    from dockyard import settings
    from dockyard.backup.stores import listed, open_store

    found = listed(open_store(settings.backup_settings()), read_app_brief().app, env, target)
    if as_json:
        print_json([manifest_json(m) for m in found])
        return
    table = Table("id", "target", "kind", "taken", "by", "size", "sha256")
    for m in found:
        taken = dt.datetime.fromtimestamp(m.created_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(m.id, m.target, m.kind, taken, m.by, _size(m.size), m.sha256[:16])
    console.print(table)


@backup_app.command()
def restore(
    env: Env, target: Target,
    backup_id: Annotated[str, typer.Argument(help="The backup (dockyard backup ls).")],
    source: Annotated[str | None, typer.Option("--from", help="Restore a backup taken in this environment.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Replace TARGET's data in ENV with a backup (of ENV, or of another environment with --from).
    The accessory must be stopped, a volume unused; the archive's checksum and every member are
    checked, the data is restored into fresh volumes and swapped in only once that succeeded (a
    failure leaves the data as it was). Boot the accessory (or scale the service) afterwards.

    Example: dockyard backup restore staging db 20261203T020000Z-a1b2c3 --from production
    """
    from dockyard.errors import UsageError

    spec = load_app_spec()
    spec.environment(env)
    what = f"{target} of {spec.app}/{env}" + (f" with a backup of {source}" if source else "")
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"dockyard backup restore replaces the data of {what}: confirm with --yes")
        typer.confirm(f"Replace the data of {what}?", abort=True)
    _backups(quiet=as_json).restore(env, target, backup_id, source_env=source)
    result(as_json, {"app": spec.app, "env": env, "target": target, "backup_id": backup_id, "source_env": source},
           f"restored {what}")


@backup_app.command()
def prune(env: Env, target: Target, as_json: JsonOpt = False) -> None:
    """Delete TARGET's backups its retention does not keep (accessories.NAME.backup.keep: last, daily, weekly).

    Example: dockyard backup prune production db
    """
    gone = _backups(quiet=as_json).prune(env, target)
    result(as_json, {"env": env, "target": target, "deleted": [manifest_json(m) for m in gone]},
           f"deleted {len(gone)} backup(s)")


@backup_app.command()
def store(
    url: Annotated[str, typer.Argument(help="file:///FOLDER or s3://BUCKET\\[/PREFIX].")],
    endpoint: Annotated[str | None, typer.Option(help="An S3-compatible endpoint (MinIO, Ceph): https://...")] = None,
    region: Annotated[str, typer.Option(help="The bucket's region.")] = "us-east-1",
    credentials_file: Annotated[str | None, typer.Option(
        help="A 0600 file with access_key_id=... and secret_access_key=... lines (else boto3's own chain).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Set where this site keeps backups, after checking it can be written.

    Example: dockyard backup store s3://backups/site --endpoint https://minio.internal:9000 --credentials-file /etc/s3
    """
    from dockyard import settings
    from dockyard.backup.stores import open_store
    from dockyard.settings import BackupSettings

    chosen = BackupSettings(store=url, s3_endpoint=endpoint, s3_region=region, s3_credentials_file=credentials_file)
    where = open_store(chosen)
    where.check()
    site = settings.load()
    site.backups = chosen
    settings.save(site)
    result(as_json, {"store": where.describe()}, f"backups go to {where.describe()}")


@backup_app.command()
def schedule(
    off: Annotated[bool, typer.Option("--off", help="Stop the server taking this app's scheduled backups.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Have `dockyard server` take this app's scheduled backups (accessories.NAME.backup.every), with
    their retention, from this dockyard.yml (an operator's checkout: a commit never decides it).

    Example: dockyard backup schedule
    """
    from dockyard.backup.store import ScheduleStore
    from dockyard.cli.common import options
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    db = StateDB()
    try:
        store = ScheduleStore(db)
        if off:
            gone = store.disable(spec.app)
            result(as_json, {"app": spec.app, "enabled": False, "was_enabled": gone, "backups": []},
                   f"{spec.app}: " + ("no scheduled backups" if gone else "had no schedule"))
            return
        store.enable(spec.app, options.spec_file)
    finally:
        db.close()
    timed = [{"env": env, "target": name, "every_seconds": a.backup.every} for env in spec.env_names()
             for name, a in spec.accessories_of(env).items() if a.backup and a.backup.every]
    said = ", ".join(f"{t['env']}/{t['target']} every {t['every_seconds']:g}s" for t in timed)
    result(as_json, {"app": spec.app, "enabled": True, "was_enabled": None, "backups": timed},
           f"{spec.app}: the server backs up " + (said or "nothing yet (no backup.every)"))


def register(app: typer.Typer) -> None:
    """Add `backup`. (main.py calls it when it runs, or for --help.)"""
    app.add_typer(backup_app, name="backup")
