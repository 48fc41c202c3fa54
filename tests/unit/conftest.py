"""Unit tests never touch the machine's own keys: the audit key and heads go to the test's folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_audit_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_AUDIT_KEY_DIR", str(tmp_path / "audit-keys"))
