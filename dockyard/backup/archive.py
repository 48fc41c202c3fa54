"""Archives: a stream compressed with zstd (with its content checksum) into a file while its
SHA-256 is taken; checked in full (checksum, then every byte decompressed) before a restore
touches anything."""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import zstandard

from dockyard.backup.plan import Manifest
from dockyard.errors import BackupError

LEVEL = 3  # zstd's default: near gzip -6's ratio at several times its speed
READ = 1024 * 1024


class _Hashing:
    """A file that hashes what is written to it and counts it."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh, self.digest, self.size = fh, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()


def write_archive(chunks: Iterable[bytes], path: Path) -> tuple[int, int, str]:
    """Compress the stream into `path`; (bytes in, bytes written, sha256 of what was written)."""
    compressor = zstandard.ZstdCompressor(level=LEVEL, write_checksum=True, threads=-1)
    raw = 0
    with path.open("wb") as fh:
        out = _Hashing(fh)
        with compressor.stream_writer(out, closefd=False) as writer:  # type: ignore[arg-type]
            for chunk in chunks:
                raw += len(chunk)
                writer.write(chunk)
        fh.flush()
    return raw, out.size, out.digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(READ):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def decompressed(path: Path) -> Iterator[IO[bytes]]:
    with path.open("rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh, read_size=READ) as reader:
        yield reader  # type: ignore[misc]


def verify(path: Path, manifest: Manifest) -> None:
    """The archive is the one the manifest describes, whole: its SHA-256, then every byte through
    zstd (whose frame checksum catches a change the hash was computed over) and, for volumes,
    every tar header. Raises BackupError, having changed nothing."""
    name = f"backup {manifest.id} of {manifest.app}/{manifest.env} {manifest.target}"
    actual = file_sha256(path)
    if actual != manifest.sha256:
        raise BackupError(f"{name}: its checksum does not match (sha256 {actual[:16]}..., the manifest says "
                          f"{manifest.sha256[:16]}...): the archive was changed or damaged; nothing was restored")
    try:
        with decompressed(path) as reader:
            if manifest.kind == "volumes":
                with tarfile.open(fileobj=reader, mode="r|") as archive:
                    for member in archive:
                        if member.isfile():
                            extracted = archive.extractfile(member)
                            while extracted is not None and extracted.read(READ):
                                pass
                raw = None
            else:
                raw = 0
                while block := reader.read(READ):
                    raw += len(block)
    except (zstandard.ZstdError, tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"{name}: the archive is damaged ({exc}); nothing was restored") from exc
    if raw is not None and raw != manifest.raw_size:
        raise BackupError(f"{name}: the archive holds {raw} bytes, the manifest says {manifest.raw_size}; "
                          "nothing was restored")
