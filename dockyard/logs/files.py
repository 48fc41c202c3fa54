"""A container's json-file log files: the rotation chain, oldest first, and each file's identity.

Docker's json-file driver writes `<id>-json.log`; with max-size/max-file it renames it to
`.log.1` (and `.1` to `.2`, ...) and opens a new `.log`. Rotation keeps the inode, so a file is
known by its inode plus a checksum of its first line (an inode can be reused after deletion).
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

FINGERPRINT_BYTES = 512


@dataclass(frozen=True)
class ChainEntry:
    path: Path
    ino: int
    size: int


def log_name(cid: str) -> str:
    return f"{cid}-json.log"


def rotation_index(name: str, base: str) -> int | None:
    """0 for the live file, N for `.N`, None for anything else (compressed `.N.gz` included)."""
    if name == base:
        return 0
    if name.startswith(base + "."):
        rest = name[len(base) + 1:]
        if rest.isdigit():
            return int(rest)
    return None


def order_chain(names: list[str], base: str) -> list[str]:
    """Names of the rotation chain, oldest (highest number) first, the live file last."""
    indexed = [(idx, name) for name in names if (idx := rotation_index(name, base)) is not None]
    return [name for _, name in sorted(indexed, reverse=True)]


def compressed(names: list[str], base: str) -> list[str]:
    return [n for n in names if n.startswith(base + ".") and n.endswith(".gz")]


def scan_chain(directory: Path, cid: str) -> list[ChainEntry] | None:
    """The chain on disk now, or None when the container's folder is gone."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return None
    entries = []
    for name in order_chain(names, log_name(cid)):
        try:
            st = os.stat(directory / name)
        except FileNotFoundError:
            continue  # rotated away between listdir and stat
        entries.append(ChainEntry(directory / name, st.st_ino, st.st_size))
    return entries


def fingerprint_of(head: bytes, ino: int) -> str | None:
    """`ino:crc32(first line)`, or None while the file has no complete first line."""
    end = head.find(b"\n")
    if end < 0:
        if len(head) < FINGERPRINT_BYTES:
            return None
        end = len(head)
    return f"{ino:x}:{zlib.crc32(head[:end]):08x}"


def fingerprint(fd: int, ino: int) -> str | None:
    return fingerprint_of(os.pread(fd, FINGERPRINT_BYTES, 0), ino)


def fingerprint_path(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return fingerprint(fd, os.fstat(fd).st_ino)
    finally:
        os.close(fd)
