"""Archives: a stream compressed with zstd (with its content checksum) into a file while its
SHA-256 is taken; checked in full (checksum, then every byte decompressed) before a restore
touches anything."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
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


def _decoded_size(path: Path) -> tuple[int, Exception | None]:
    """Every byte through zstd (whose frame checksum is checked at the end): the size, or what broke."""
    decompressor, raw = zstandard.ZstdDecompressor().decompressobj(), 0
    with path.open("rb") as fh:
        while block := fh.read(READ):
            try:
                raw += len(decompressor.decompress(block))
            except zstandard.ZstdError as exc:
                return raw, exc
    return raw, None if decompressor.eof else EOFError("it ends before its last frame")


def verify(path: Path, manifest: Manifest) -> None:
    """The archive is the one the manifest describes, whole: its SHA-256, and every byte through
    zstd, whose frame checksum catches a change the hash was made to fit (both at once: hashlib and
    zstd let go of the GIL). Raises BackupError, having changed nothing."""
    name = f"backup {manifest.id} of {manifest.app}/{manifest.env} {manifest.target}"
    with ThreadPoolExecutor(max_workers=2) as pool:
        hashed = pool.submit(file_sha256, path)
        raw, damage = _decoded_size(path)
        actual = hashed.result()
    if actual != manifest.sha256:
        raise BackupError(f"{name}: its checksum does not match (sha256 {actual[:16]}..., the manifest says "
                          f"{manifest.sha256[:16]}...): the archive was changed or damaged; nothing was restored")
    if damage is not None:
        raise BackupError(f"{name}: the archive is damaged ({damage}); nothing was restored") from damage
    if raw != manifest.raw_size:
        raise BackupError(f"{name}: the archive holds {raw} bytes, the manifest says {manifest.raw_size}; "
                          "nothing was restored")
