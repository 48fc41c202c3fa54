from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from dockyard.config.secrets import SecretBox, key_file_path
from dockyard.errors import SecretKeyError


def test_round_trip_and_ciphertext_hides_value() -> None:
    box = SecretBox()
    token = box.encrypt("hunter2")
    assert "hunter2" not in token
    assert box.decrypt(token) == "hunter2"


def test_key_file_created_0600_on_first_encrypt(tmp_path: Path) -> None:
    path = key_file_path()
    assert path == tmp_path / "keys" / "secret.key"
    assert not path.exists()
    SecretBox().encrypt("x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = SecretBox().encrypt("again")  # a second box reuses the same file
    assert SecretBox(key=path.read_bytes()).decrypt(token) == "again"


def test_xdg_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKYARD_SECRET_KEY_FILE")
    assert key_file_path() == tmp_path / "xdg" / "dockyard" / "secret.key"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert key_file_path() == tmp_path / "h" / ".config" / "dockyard" / "secret.key"


def test_decrypt_never_creates_a_key() -> None:
    token = SecretBox(key=Fernet.generate_key()).encrypt("x")
    with pytest.raises(SecretKeyError, match="does not exist"):
        SecretBox().decrypt(token)
    assert not key_file_path().exists()


def test_env_key_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key()
    monkeypatch.setenv("DOCKYARD_SECRET_KEY", key.decode())
    token = SecretBox().encrypt("x")
    assert SecretBox(key=key).decrypt(token) == "x"
    assert not key_file_path().exists()


def test_wrong_key_is_a_clear_error() -> None:
    token = SecretBox(key=Fernet.generate_key()).encrypt("x")
    with pytest.raises(SecretKeyError, match="secret DB_PASSWORD cannot be decrypted.*wrong secret key"):
        SecretBox(key=Fernet.generate_key()).decrypt(token, what="secret DB_PASSWORD")


def test_malformed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_SECRET_KEY", "not-a-key")
    with pytest.raises(SecretKeyError, match="DOCKYARD_SECRET_KEY is not a valid Fernet key"):
        SecretBox().encrypt("x")
