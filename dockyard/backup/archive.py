"""Archives: a stream compressed with zstd (with its content checksum) into a file while its
SHA-256 is taken; checked in full (checksum, every byte decompressed and, for volumes, every tar
member) before a restore touches anything."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import zstandard

from dockyard.backup.members import check_members
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


_FRAME = 0xFD2FB528
_SKIPPABLE = range(0x184D2A50, 0x184D2A60)


def _frames_whole(path: Path) -> Exception | None:
    """Walk the zstd frames' headers and block headers (RFC 8878) to the end of the file: None when
    the last frame ends exactly there. A stream reader decodes a cut archive without a word (it
    stops where the bytes do), so this is how one cut short is told from one that is whole."""
    with path.open("rb") as fh:
        def take(count: int) -> bytes:
            data = fh.read(count)
            if len(data) != count:
                raise EOFError("it ends before its last frame")
            return data

        try:
            while magic := fh.read(4):
                if len(magic) < 4:
                    raise EOFError("it ends before its last frame")
                number = int.from_bytes(magic, "little")
                if number in _SKIPPABLE:
                    take(int.from_bytes(take(4), "little"))
                    continue
                if number != _FRAME:
                    return ValueError(f"no zstd frame at byte {fh.tell() - 4}")
                descriptor = take(1)[0]
                single, checksum = descriptor >> 5 & 1, descriptor >> 2 & 1
                content_size = (single, 2, 4, 8)[descriptor >> 6]
                take((1 - single) + (0, 1, 2, 4)[descriptor & 3] + content_size)
                last = 0
                while not last:
                    header = int.from_bytes(take(3), "little")
                    last, kind, size = header & 1, header >> 1 & 3, header >> 3
                    if kind == 3:
                        return ValueError(f"a reserved block type at byte {fh.tell() - 3}")
                    fh.seek(1 if kind == 1 else size, 1)  # an RLE block holds one byte
                take(4 * checksum)
                if fh.tell() > path.stat().st_size:
                    raise EOFError("it ends before its last frame")
        except EOFError as exc:
            return exc
    return None


class _Decoded:
    """The archive's bytes through zstd as a file to read, counted; a zstd error (the frame checksum
    is checked at the frame's end) ends it and is kept. A stream reader: a read returns at most what
    was asked, while one block of a file of zeros can expand to gigabytes."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.reader = zstandard.ZstdDecompressor().stream_reader(fh, read_size=READ, read_across_frames=True)
        self.size = 0
        self.damage: Exception | None = None

    def read(self, size: int) -> bytes:
        if self.damage is not None:
            return b""
        try:
            data: bytes = self.reader.read(size)
        except zstandard.ZstdError as exc:
            self.damage, data = exc, b""
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(READ):
            pass


def verify(path: Path, manifest: Manifest) -> None:
    """The archive is the one the manifest describes, whole: its SHA-256, and every byte through
    zstd, whose frame checksum catches a change the hash was made to fit (both at once: hashlib and
    zstd let go of the GIL); in the same pass, every member of a volumes archive follows the rules
    of backup/members.py. Raises BackupError, having changed nothing."""
    name = f"backup {manifest.id} of {manifest.app}/{manifest.env} {manifest.target}"
    members: BackupError | None = None
    with ThreadPoolExecutor(max_workers=2) as pool, path.open("rb") as fh:
        hashed = pool.submit(file_sha256, path)
        framed = pool.submit(_frames_whole, path)
        decoded = _Decoded(fh)
        if manifest.kind == "volumes":
            try:
                check_members(decoded, manifest.volumes)
            except BackupError as exc:
                members = exc  # said after the checksum: a damaged archive breaks its tar as well
        decoded.drain()
        actual = hashed.result()
    raw, damage = decoded.size, decoded.damage or framed.result()
    if actual != manifest.sha256:
        raise BackupError(f"{name}: its checksum does not match (sha256 {actual[:16]}..., the manifest says "
                          f"{manifest.sha256[:16]}...): the archive was changed or damaged; nothing was restored")
    if damage is not None:
        raise BackupError(f"{name}: the archive is damaged ({damage}); nothing was restored") from damage
    if raw != manifest.raw_size:
        raise BackupError(f"{name}: the archive holds {raw} bytes, the manifest says {manifest.raw_size}; "
                          "nothing was restored")
    if members is not None:
        raise BackupError(f"{name}: {members.message}; nothing was restored", hint=(
            "a backup Dockyard took holds none of this: the archive and its manifest were made or changed "
            "elsewhere")) from members
