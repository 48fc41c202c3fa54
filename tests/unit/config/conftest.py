from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Nothing in these tests may touch the real home, key file or config store."""
    home = tmp_path / "home"
    monkeypatch.setenv("DOCKYARD_HOME", str(home))
    monkeypatch.setenv("DOCKYARD_SECRET_KEY_FILE", str(tmp_path / "keys" / "secret.key"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("DOCKYARD_CONFIG_STORE", f"sqlite:///{tmp_path / 'store' / 'config.db'}")
    monkeypatch.setenv("DOCKYARD_USER", "tester")
    monkeypatch.delenv("DOCKYARD_SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray ./dockyard.yml decides the app
    return home
