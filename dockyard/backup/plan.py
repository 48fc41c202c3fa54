"""Pure parts of backups: what a backup is (its manifest), where it is kept, and which ones
retention keeps. No I/O here."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import asdict, dataclass, field

import orjson

from dockyard.errors import BackupError

ID_PATTERN = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")


@dataclass(frozen=True)
class Manifest:
    """What one backup holds, written beside its archive once the archive is complete: a backup
    without a manifest is unfinished and never listed."""

    id: str
    app: str
    env: str
    target: str  # an accessory's name, or SERVICE/VOLUME
    kind: str  # "dump" (the accessory's dump command's output) or "volumes" (a tar of them)
    volumes: list[str] = field(default_factory=list)  # the short names of the volumes in a "volumes" archive
    created_at: float = 0.0
    by: str = ""
    size: int = 0  # bytes of the compressed archive
    raw_size: int = 0  # bytes before compression
    sha256: str = ""  # of the compressed archive

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        try:
            fields = orjson.loads(data)
            manifest = cls(**fields)
        except (orjson.JSONDecodeError, TypeError) as exc:
            raise BackupError(f"{where}: not a backup manifest ({exc})") from exc
        if not ID_PATTERN.fullmatch(manifest.id):
            raise BackupError(f"{where}: not a backup manifest (id {manifest.id!r})")
        return manifest


def new_id(now: float) -> str:
    """Sortable by time, unique across hosts: 20261203T131500Z-a1b2c3."""
    stamp = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def prefix(app: str, env: str, target: str) -> str:
    """Where one target's backups are kept in a store: APP/ENV/TARGET/ (a volume's / becomes '.')."""
    return f"{app}/{env}/{target.replace('/', '.')}/"


def archive_key(m: Manifest) -> str:
    return f"{prefix(m.app, m.env, m.target)}{m.id}.tar.zst" if m.kind == "volumes" else \
        f"{prefix(m.app, m.env, m.target)}{m.id}.dump.zst"


def manifest_key(m: Manifest) -> str:
    return f"{prefix(m.app, m.env, m.target)}{m.id}.json"


def to_prune(manifests: list[Manifest], last: int, daily: int, weekly: int) -> list[Manifest]:
    """The backups retention deletes: all but the newest `last`, the newest of each of the `daily`
    most recent days that have a backup, and the newest of each of the `weekly` most recent ISO weeks
    that have one (UTC). Never the newest one."""
    newest_first = sorted(manifests, key=lambda m: (m.created_at, m.id), reverse=True)
    keep = {m.id for m in newest_first[:max(last, 1)]}
    for count, bucket in ((daily, _day), (weekly, _week)):
        seen: list[str] = []
        for m in newest_first:
            key = bucket(m.created_at)
            if key not in seen:
                if len(seen) == count:
                    break
                seen.append(key)
                keep.add(m.id)
    return [m for m in newest_first if m.id not in keep]


def _day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")


def _week(ts: float) -> str:
    year, week, _ = dt.datetime.fromtimestamp(ts, dt.UTC).isocalendar()
    return f"{year}-W{week:02d}"


def due(last_created: float | None, every: float, now: float) -> bool:
    """A scheduled backup is due when none was taken yet or the newest is `every` old."""
    return last_created is None or now - last_created >= every
