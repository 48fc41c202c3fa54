"""What keeps the audit log honest against someone who can write state.db (issue 28): a key and a head
kept beside the secret key, out of the database.

- The key (32 random bytes, 0600) makes each row's hash an HMAC: a changed row's chain cannot be
  recomputed without it.
- The head (the last row's seq and hash, and the row the keyed chain starts at) is rewritten with
  each row: rows deleted at the end, or a whole log swapped for an older copy, no longer match it.
  It is named after the database's real path, so a log copied elsewhere is checked against nothing
  and said so.

What they do not protect against: someone who can also write the key's folder.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from dockyard.config.secrets import key_file_path
from dockyard.errors import DockyardError


def key_dir() -> Path:
    explicit = os.environ.get("DOCKYARD_AUDIT_KEY_DIR")
    return Path(explicit).expanduser() if explicit else key_file_path().parent


@dataclass(frozen=True)
class Head:
    keyed_from: int  # the first row hashed with the key (rows before it: plain SHA-256, written before keys)
    seq: int
    hash: str


class AuditKey:
    def __init__(self, db_path: Path, folder: Path | None = None) -> None:
        self.folder = folder or key_dir()
        self.key_path = self.folder / "audit.key"
        name = hashlib.sha256(str(db_path.resolve()).encode()).hexdigest()[:16]
        self.head_path = self.folder / "audit-heads" / f"{name}.head"

    def key(self, create: bool) -> bytes | None:
        """The key; made on the first row written (O_EXCL: two writers never make two keys)."""
        try:
            return bytes.fromhex(self.key_path.read_text().strip())
        except FileNotFoundError:
            if not create:
                return None
        except (OSError, ValueError) as exc:
            raise DockyardError(f"the audit key {self.key_path} cannot be read: {exc}") from exc
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return bytes.fromhex(self.key_path.read_text().strip())
        except OSError as exc:
            raise DockyardError(f"cannot create the audit key {self.key_path}: {exc.strerror}") from exc
        raw = secrets.token_bytes(32)
        with os.fdopen(fd, "w") as fh:
            fh.write(raw.hex() + "\n")
        return raw

    def head(self) -> Head | None:
        try:
            keyed_from, seq, digest = self.head_path.read_text().split()
            return Head(int(keyed_from), int(seq), digest)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise DockyardError(f"the audit head {self.head_path} cannot be read: {exc}") from exc

    def write_head(self, head: Head) -> None:
        """Replace the head whole (write, fsync, rename): a crash leaves the old or the new one."""
        self.head_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.head_path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{head.keyed_from} {head.seq} {head.hash}\n")
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.head_path)


def keyed_hash(key: bytes, canonical: bytes) -> str:
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()
