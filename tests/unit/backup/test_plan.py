"""Backups' pure parts (issue 16): ids, keys, manifests, retention and schedules."""

from __future__ import annotations

import datetime as dt

import pytest

from dockyard.backup.plan import Manifest, archive_key, due, manifest_key, new_id, to_prune
from dockyard.errors import BackupError

DAY = 86400.0


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def backup(when: str, n: int = 0) -> Manifest:
    ts = at(when)
    return Manifest(id=f"{new_id(ts)[:16]}-{n:06x}", app="shop", env="prod", target="db", kind="dump", created_at=ts)


def test_ids_sort_by_time_and_keys_are_per_target() -> None:
    first, second = new_id(at("2026-12-03T01:02:03")), new_id(at("2026-12-03T01:02:04"))
    assert first.startswith("20261203T010203Z-") and first < second
    m = Manifest(id=first, app="shop", env="prod", target="web/data", kind="volumes", volumes=["data"])
    assert archive_key(m) == f"shop/prod/web.data/{first}.tar.zst"
    assert manifest_key(m) == f"shop/prod/web.data/{first}.json"
    assert Manifest.from_json(m.to_json(), "x") == m


def test_a_manifest_that_is_not_one_is_refused() -> None:
    with pytest.raises(BackupError, match="x.json: not a backup manifest"):
        Manifest.from_json(b'{"id": "../../etc", "app": "a", "env": "b", "target": "c", "kind": "dump"}', "x.json")
    with pytest.raises(BackupError, match="not a backup manifest"):
        Manifest.from_json(b"[1, 2", "x.json")


def test_retention_keeps_the_last_the_daily_and_the_weekly() -> None:
    # three a day for 20 days: 2026-11-10 (a Tuesday) .. 2026-11-29
    made = [backup(f"2026-11-{day:02d}T{hour:02d}:00:00", day * 10 + hour)
            for day in range(10, 30) for hour in (2, 10, 18)]
    gone = {m.id for m in to_prune(made, last=2, daily=3, weekly=2)}
    kept = sorted(dt.datetime.fromtimestamp(m.created_at, dt.UTC).strftime("%m-%d %H")
                   for m in made if m.id not in gone)
    # last 2 (29th 18h, 10h); the newest of 29th, 28th, 27th; of ISO weeks 48 (23..29) and 47 (16..22)
    assert kept == ["11-22 18", "11-27 18", "11-28 18", "11-29 10", "11-29 18"]


def test_retention_never_deletes_the_newest_and_keeps_all_when_few() -> None:
    made = [backup("2026-11-01T00:00:00", 1), backup("2026-11-02T00:00:00", 2)]
    assert to_prune(made, last=1, daily=0, weekly=0) == [made[0]]
    assert to_prune(made, last=5, daily=0, weekly=0) == []


def test_a_schedule_is_due_when_its_newest_is_old_enough() -> None:
    now = at("2026-12-03T12:00:00")
    assert due(None, DAY, now)
    assert not due(now - DAY + 60, DAY, now)
    assert due(now - DAY, DAY, now)
