"""`dockyard backup create|ls|restore|prune|store`: backups of an environment's accessories and volumes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from dockyard.cli.common import console, load_app_spec, print_json, say

if TYPE_CHECKING:
    from dockyard.backup.service import Backups

backup_app = typer.Typer(help="Backups of an environment's accessories and volumes: create, ls, restore, prune; "
                              "where they are kept: store.\n\nExample: dockyard backup create production db",
                         no_args_is_help=True)

Env = Annotated[str, typer.Argument(help="The environment.")]
Target = Annotated[str, typer.Argument(help="An accessory (db), or a service's volume (web/data).")]


def _backups() -> Backups:
    from dockyard import settings
    from dockyard.backup.service import Backups
    from dockyard.backup.stores import open_store
    from dockyard.config.service import open_config_service

    return Backups(load_app_spec(), open_store(settings.backup_settings()), open_config_service(), say,
                   by=settings.author())


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@backup_app.command()
def create(env: Env, target: Target) -> None:
    """Back up TARGET of ENV now: an accessory's dump (or its volumes, paused while copied), or a
    service's volume (its containers paused while copied); compressed, with a checksum.

    Example: dockyard backup create production db
    """
    manifest = _backups().create(env, target)
    console.print(f"[green]{manifest.id}[/] {_size(manifest.size)} sha256:{manifest.sha256[:16]}", highlight=False)


@backup_app.command("ls")
def ls(
    env: Env,
    target: Annotated[str | None, typer.Argument(help="Only this accessory or SERVICE/VOLUME.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List ENV's backups, newest first.

    Example: dockyard backup ls production db
    """
    import datetime as dt
    from dataclasses import asdict

    from rich.table import Table

    found = _backups().ls(env, target)
    if as_json:
        print_json([asdict(m) for m in found])
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
) -> None:
    """Replace TARGET's data in ENV with a backup (of ENV, or of another environment with --from).
    The accessory must be stopped, a volume unused; the archive's checksum and contents are checked
    before anything is overwritten. Boot the accessory (or scale the service) afterwards.

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
    _backups().restore(env, target, backup_id, source_env=source)
    console.print(f"[green]restored[/] {what}", highlight=False)


@backup_app.command()
def prune(env: Env, target: Target) -> None:
    """Delete TARGET's backups its retention does not keep (accessories.NAME.backup.keep: last, daily, weekly).

    Example: dockyard backup prune production db
    """
    gone = _backups().prune(env, target)
    console.print(f"deleted {len(gone)} backup(s)", highlight=False)


@backup_app.command()
def store(
    url: Annotated[str, typer.Argument(help="file:///FOLDER or s3://BUCKET\\[/PREFIX].")],
    endpoint: Annotated[str | None, typer.Option(help="An S3-compatible endpoint (MinIO, Ceph): https://...")] = None,
    region: Annotated[str, typer.Option(help="The bucket's region.")] = "us-east-1",
    credentials_file: Annotated[str | None, typer.Option(
        help="A 0600 file with access_key_id=... and secret_access_key=... lines (else boto3's own chain).")] = None,
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
    settings.save(site.model_copy(update={"backups": chosen}))
    console.print(f"backups go to {where.describe()}", highlight=False)


@backup_app.command()
def schedule(
    off: Annotated[bool, typer.Option("--off", help="Stop the server taking this app's scheduled backups.")] = False,
) -> None:
    """Have `dockyard server` take this app's scheduled backups (accessories.NAME.backup.every), with
    their retention, from this dockyard.yml (an operator's checkout: a commit never decides it).

    Example: dockyard backup schedule
    """
    from dockyard.backup.schedule import ScheduleStore
    from dockyard.cli.common import options
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    db = StateDB()
    try:
        store = ScheduleStore(db)
        if off:
            gone = store.disable(spec.app)
            console.print(f"{spec.app}: " + ("no scheduled backups" if gone else "had no schedule"), highlight=False)
            return
        store.enable(spec.app, options.spec_file)
    finally:
        db.close()
    timed = [f"{env}/{name} every {a.backup.every:g}s" for env in spec.env_names()
             for name, a in spec.accessories_of(env).items() if a.backup and a.backup.every]
    console.print(f"{spec.app}: the server backs up " + (", ".join(timed) or "nothing yet (no backup.every)"),
                  highlight=False)


def register(app: typer.Typer) -> None:
    """Add `backup`. (main.py calls it when it runs, or for --help.)"""
    app.add_typer(backup_app, name="backup")
