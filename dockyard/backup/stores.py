"""Where backups are kept: a local folder or an S3-compatible bucket, behind one small Protocol.

An archive is written to a staging file first (inside the folder itself for a local store, so
committing it is a rename) and committed under its key; its manifest is written last, so a backup
that stopped half-way is never listed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

from dockyard.backup.plan import Manifest, prefix
from dockyard.errors import BackupError, NotFound
from dockyard.settings_base import private_dir

if TYPE_CHECKING:
    from dockyard.settings_base import BackupSettings


class BackupStore(Protocol):
    def describe(self) -> str: ...

    def check(self) -> None:
        """Raise BackupError when the store cannot be written (before anything is done)."""

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh file path to write an archive to; removed after the block if not committed."""
        yield Path()

    def commit(self, staged: Path, key: str) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """The object as a file on this machine for the block."""
        yield Path()

    def keys(self, prefix: str) -> list[str]: ...

    def delete(self, key: str) -> None: ...


class LocalStore:
    """A folder (0700, files 0600) on this machine or a mounted share."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self) -> str:
        return f"folder {self.root}"

    def check(self) -> None:
        try:
            private_dir(self.root)
            (self.root / ".staging").mkdir(mode=0o700, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.root / ".staging")
            probe.close()
        except OSError as exc:
            raise BackupError(f"backup folder {self.root} cannot be written: {exc.strerror or exc}",
                              hint="dockyard backup store file:///A/WRITABLE/FOLDER") from exc

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):  # keys are ours, but a manifest may be edited
            raise BackupError(f"backup key {key!r} is outside {self.root}")
        return path

    @contextmanager
    def staging(self) -> Iterator[Path]:
        self.check()
        fd, name = tempfile.mkstemp(dir=self.root / ".staging", suffix=".partial")
        os.close(fd)
        path = Path(name)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    def commit(self, staged: Path, key: str) -> None:
        target = self._path(key)
        private_dir(target.parent)
        os.replace(staged, target)

    def put_bytes(self, key: str, data: bytes) -> None:
        with self.staging() as staged:
            staged.write_bytes(data)
            self.commit(staged, key)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"no {key} in {self.describe()}") from exc
        except OSError as exc:
            raise BackupError(f"reading {key} from {self.describe()}: {exc.strerror or exc}") from exc

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"no {key} in {self.describe()}")
        yield path

    def keys(self, prefix: str) -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*")
                      if p.is_file() and ".staging" not in p.parts)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Store:
    """An S3-compatible bucket (AWS, MinIO, Ceph, a local test server), through boto3."""

    def __init__(self, bucket: str, prefix: str, endpoint: str | None, region: str,
                 credentials: dict[str, str] | None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix, self.endpoint = bucket, prefix.strip("/"), endpoint
        keys = {"aws_access_key_id": credentials["access_key_id"],
                "aws_secret_access_key": credentials["secret_access_key"]} if credentials else {}
        # a bucket that does not answer must fail in seconds, not after boto3's default retries
        config = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 2})
        self.s3: Any = boto3.client("s3", endpoint_url=endpoint, region_name=region, config=config, **keys)

    def describe(self) -> str:
        return f"bucket {self.bucket}" + (f" at {self.endpoint}" if self.endpoint else "")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, what: str, exc: Exception) -> BackupError:
        reason = str(exc).splitlines()[0][:300]
        return BackupError(f"{what} {self.describe()}: {reason}",
                           hint="check the bucket exists and answers, and its keys (dockyard backup store --help)")

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("cannot reach", exc) from exc

    @contextmanager
    def staging(self) -> Iterator[Path]:
        self.check()
        with tempfile.TemporaryDirectory(prefix="dockyard-backup-") as directory:
            yield Path(directory) / "archive"

    def commit(self, staged: Path, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3.upload_file(str(staged), self.bucket, self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"uploading {key} to", exc) from exc

    def put_bytes(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"writing {key} to", exc) from exc

    def get_bytes(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return bytes(self.s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFound(f"no {key} in {self.describe()}") from exc
            raise self._fail(f"reading {key} from", exc) from exc
        except BotoCoreError as exc:
            raise self._fail(f"reading {key} from", exc) from exc

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        from botocore.exceptions import BotoCoreError, ClientError

        with tempfile.TemporaryDirectory(prefix="dockyard-restore-") as directory:
            path = Path(directory) / "archive"
            try:
                self.s3.download_file(self.bucket, self._key(key), str(path))
            except (BotoCoreError, ClientError) as exc:
                raise self._fail(f"downloading {key} from", exc) from exc
            yield path

    def keys(self, prefix: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        found: list[str] = []
        strip = len(self._key(""))
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                              Prefix=self._key(prefix)):
                found += [item["Key"][strip:] for item in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("listing", exc) from exc
        return sorted(found)

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"deleting {key} from", exc) from exc


def read_credentials(path: str) -> dict[str, str]:
    """`access_key_id=...` and `secret_access_key=...` lines of a 0600 file."""
    file = Path(path)
    try:
        if file.stat().st_mode & 0o077:
            raise BackupError(f"{path}: S3 credentials must be readable by their owner only (chmod 600 {path})")
        pairs = dict(line.split("=", 1) for line in file.read_text().splitlines() if "=" in line)
    except OSError as exc:
        raise BackupError(f"{path}: cannot read the S3 credentials: {exc.strerror or exc}") from exc
    pairs = {k.strip(): v.strip() for k, v in pairs.items()}
    missing = [k for k in ("access_key_id", "secret_access_key") if not pairs.get(k)]
    if missing:
        raise BackupError(f"{path}: no {' and no '.join(missing)} line")
    return pairs


def open_store(settings: BackupSettings) -> BackupStore:
    url = urlparse(settings.store or "")
    if url.scheme == "file" and url.path:
        return LocalStore(Path(url.path))
    if url.scheme == "s3" and url.netloc:
        credentials = read_credentials(settings.s3_credentials_file) if settings.s3_credentials_file else None
        return S3Store(url.netloc, url.path, settings.s3_endpoint, settings.s3_region, credentials)
    raise BackupError(f"backup store {settings.store!r}: use file:///FOLDER or s3://BUCKET[/PREFIX]")


def listed(store: BackupStore, app: str, env: str, name: str | None = None) -> list[Manifest]:
    """The environment's backups (of one target), newest first: read from the store alone, so
    `backup ls` loads nothing of the engine."""
    where = prefix(app, env, name) if name else f"{app}/{env}/"
    found = [Manifest.from_json(store.get_bytes(key), key) for key in store.keys(where) if key.endswith(".json")]
    return sorted(found, key=lambda m: (m.created_at, m.id), reverse=True)
