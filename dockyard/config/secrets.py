"""Secrets: Fernet encryption at rest, with a key kept apart from the store.

The key comes from DOCKYARD_SECRET_KEY (a urlsafe-base64 Fernet key) or from a key file:
DOCKYARD_SECRET_KEY_FILE, else $XDG_CONFIG_HOME/dockyard/secret.key, else
~/.config/dockyard/secret.key. The file is created (mode 0600) the first time a secret is
encrypted, never when one is only read: a fresh key could not decrypt anything anyway.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.errors import SecretKeyError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

MASK = "***"
_MAKE_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


def key_file_path() -> Path:
    explicit = os.environ.get("DOCKYARD_SECRET_KEY_FILE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "dockyard" / "secret.key"


BOUND = "v2:"  # a ciphertext whose plaintext starts with its env/app/key


def _fernet(raw: bytes | str, source: str) -> Fernet:
    from cryptography.fernet import Fernet  # 60 ms of import: only commands that touch secrets pay it

    try:
        return Fernet(raw.strip())
    except (ValueError, TypeError) as exc:
        raise SecretKeyError(
            f"the secret key from {source} is not a valid Fernet key (32 url-safe base64-encoded bytes)",
            hint=f"make one with: {_MAKE_KEY}",
        ) from exc


def _create_key_file(path: Path) -> bytes:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_EXCL: two processes racing to create it must not end up with two keys
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    except OSError as exc:
        raise SecretKeyError(f"cannot create the secret key file {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(key + b"\n")
    return key


class SecretBox:
    """Encrypts and decrypts secret values; loads (or creates) the key on first use."""

    def __init__(self, key: bytes | str | None = None, key_file: Path | None = None) -> None:
        self._key = key
        self._key_file = key_file
        self._box: Fernet | None = None

    @property
    def source(self) -> str:
        if self._key is not None:
            return "the given key"
        if os.environ.get("DOCKYARD_SECRET_KEY"):
            return "DOCKYARD_SECRET_KEY"
        return str(self._key_file or key_file_path())

    def _load(self, create: bool) -> Fernet:
        if self._box is not None:
            return self._box
        if self._key is not None:
            self._box = _fernet(self._key, self.source)
        elif os.environ.get("DOCKYARD_SECRET_KEY"):
            self._box = _fernet(os.environ["DOCKYARD_SECRET_KEY"], "DOCKYARD_SECRET_KEY")
        else:
            path = self._key_file or key_file_path()
            if path.exists():
                try:
                    raw = path.read_bytes()
                except OSError as exc:
                    raise SecretKeyError(f"cannot read the secret key file {path}: {exc.strerror}") from exc
            elif create:
                raw = _create_key_file(path)
            else:
                raise SecretKeyError(
                    f"no secret key: {path} does not exist, so secrets cannot be decrypted",
                    hint="use the key that encrypted them: DOCKYARD_SECRET_KEY or DOCKYARD_SECRET_KEY_FILE",
                )
            self._box = _fernet(raw, str(path))
        return self._box

    def encrypt(self, plaintext: str, context: str = "") -> str:
        """The ciphertext of `plaintext`, bound to `context` (env/app/key): Fernet has no associated
        data, so the context is sealed inside the authenticated token and checked on decryption."""
        if not context:
            return self._load(create=True).encrypt(plaintext.encode()).decode()
        sealed = context.encode() + b"\0" + plaintext.encode()
        return BOUND + self._load(create=True).encrypt(sealed).decode()

    def decrypt(self, token: str, what: str = "a secret", context: str = "") -> str:
        from cryptography.fernet import InvalidToken

        try:
            if not token.startswith(BOUND):  # written before ciphertexts were bound: still read
                return self._load(create=False).decrypt(token.encode()).decode()
            sealed = self._load(create=False).decrypt(token[len(BOUND):].encode())
        except InvalidToken as exc:
            raise SecretKeyError(
                f"{what} cannot be decrypted with the key from {self.source}: wrong secret key",
                hint="use the key that encrypted it (DOCKYARD_SECRET_KEY or DOCKYARD_SECRET_KEY_FILE), "
                "or set the secret again with: dockyard secret set",
            ) from exc
        bound_to, _, plaintext = sealed.partition(b"\0")
        if context and bound_to.decode() != context:
            raise SecretKeyError(f"{what} was encrypted for {bound_to.decode()}, not {context}: a ciphertext "
                                 "copied from elsewhere is refused", hint="set the secret again: dockyard secret set")
        return plaintext.decode()
