"""The folder store and the archive check (issue 16): keys stay inside the folder, a backup is
listed only once complete, and a damaged archive is refused before a restore."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.backup.archive import verify, write_archive
from dockyard.backup.plan import Manifest
from dockyard.backup.stores import LocalStore, open_store, read_credentials
from dockyard.errors import BackupError, NotFound
from dockyard.settings import BackupSettings


def test_a_folder_store_commits_archives_by_rename_and_keeps_keys_inside(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "b")
    with store.staging() as staged:
        staged.write_bytes(b"archive")
        store.commit(staged, "shop/prod/db/1.dump.zst")
    store.put_bytes("shop/prod/db/1.json", b"{}")
    assert store.keys("shop/prod/") == ["shop/prod/db/1.dump.zst", "shop/prod/db/1.json"]
    assert list((tmp_path / "b" / ".staging").iterdir()) == []
    assert oct((tmp_path / "b" / "shop/prod/db/1.dump.zst").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(BackupError, match="outside"):
        store.get_bytes("../../etc/passwd")


def test_an_unwritable_folder_and_a_bad_url_say_what(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(BackupError, match="cannot be written"):
        LocalStore(tmp_path / "file" / "b").check()
    with pytest.raises(BackupError, match="use file:///FOLDER or s3://BUCKET"):
        open_store(BackupSettings(store="ftp://x"))


def test_s3_credentials_come_from_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "s3"
    path.write_text("access_key_id = AK\nsecret_access_key=SK\n")
    path.chmod(0o644)
    with pytest.raises(BackupError, match="readable by their owner only"):
        read_credentials(str(path))
    path.chmod(0o600)
    assert read_credentials(str(path)) == {"access_key_id": "AK", "secret_access_key": "SK"}


def test_an_archive_is_verified_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.zst"
    raw, size, digest = write_archive([b"x" * 100_000, b"y" * 1000], path)
    assert (raw, size) == (101_000, path.stat().st_size)
    manifest = Manifest(id="20261203T000000Z-000000", app="a", env="e", target="db", kind="dump",
                        raw_size=raw, size=size, sha256=digest)
    verify(path, manifest)
    import hashlib

    data = path.read_bytes()
    flipped = data[:20] + bytes([data[20] ^ 1]) + data[21:]
    for damaged, says in ((data[:-5], "ends before its last frame"), (flipped, "damaged")):
        path.write_bytes(damaged)
        with pytest.raises(BackupError, match="checksum does not match"):
            verify(path, manifest)
        fitted = Manifest(**{**manifest.__dict__, "sha256": hashlib.sha256(damaged).hexdigest()})
        with pytest.raises(BackupError, match=says):  # a checksum made to fit: zstd's own checks refuse it
            verify(path, fitted)


def test_a_backup_id_that_is_not_one_never_reaches_the_store(tmp_path: Path) -> None:
    from dockyard.backup.service import Backups
    from dockyard.spec import parse_spec

    spec = parse_spec("app: shop\nservices:\n  web: {port: 8080}\naccessories:\n  db: {image: redis:7, volumes: "
                      "[{name: data, path: /data}]}\nenvironments:\n  prod: {}\n")
    backups = Backups(spec, LocalStore(tmp_path / "b"), None, lambda _l: None, by="t")  # type: ignore[arg-type]
    with pytest.raises(BackupError, match="'../../../etc/x' is not a backup id"):
        backups.find("prod", "db", "../../../etc/x")
    with pytest.raises(NotFound, match="no backup 20261203T020000Z-a1b2c3 of shop/prod db"):
        backups.find("prod", "db", "20261203T020000Z-a1b2c3")
