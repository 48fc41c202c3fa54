"""Everything under DOCKYARD_HOME is the owner's alone (issue 28): a home used the way the CLI and the
server use it, with the usual umask 022, holds no file or folder that the group or others may read,
write or enter. The one exception is the tree of an exported commit: its files keep git's modes
(they become the image's), behind its own 0700 folder."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard import settings
from dockyard.backup.stores import LocalStore
from dockyard.config.service import open_config_service
from dockyard.logs.paths import default_state_dir
from dockyard.logs.spool import Spool
from dockyard.logs.store import LogStore
from dockyard.monitor.history import History
from dockyard.pipeline.source import export_commit, update_mirror
from dockyard.pipeline.store import RunStore
from dockyard.pipeline.worker import app_lock
from dockyard.server.store import Deliveries
from dockyard.state.audit import AuditLog
from dockyard.state.db import StateDB
from dockyard.state.lock import env_lock
from tests.private_home import open_to_others


@pytest.fixture
def usual_umask() -> Iterator[None]:
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def git_repo(path: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True, text=True).stdout
    path.mkdir()
    git("init", "-q", "-b", "main")
    (path / "dockyard.yml").write_text("app: shop\n")
    (path / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (path / "run.sh").chmod(0o755)
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "one")
    return git("rev-parse", "HEAD").strip()


def test_a_freshly_used_home_is_private(dockyard_env: Path, tmp_path: Path, usual_umask: None) -> None:
    sha = git_repo(tmp_path / "shop")
    db = StateDB()
    AuditLog(db).record("ann", "cli", "config set", "shop/testing", "ok")
    Deliveries(db).receive("github", "d1")
    RunStore(db).register_app("shop", str(tmp_path / "shop"), "dockyard.yml")
    settings.save(settings.Settings())
    config = open_config_service()
    config.set("testing", "shop", {"GREETING": "hi"}, author="ann")
    config.close()
    with env_lock("shop", "testing"), app_lock("shop", wait=False):
        pass
    mirror = update_mirror("shop", str(tmp_path / "shop"))
    tree = export_commit("shop", str(tmp_path / "shop"), sha, mirror)
    History().conn.close()
    LogStore(default_state_dir() / "store.db").db.close()
    Spool(default_state_dir() / "spool.db", ["store"]).db.close()
    LocalStore(dockyard_env / "backups").put_bytes("shop/testing/web/one.json", b"{}")
    db.close()

    assert stat.S_IMODE((tree / "run.sh").stat().st_mode) == 0o755  # the image's file keeps its mode
    for folder in (dockyard_env / "locks", dockyard_env / "work", dockyard_env / "work" / "shop", tree.parent, tree,
                   dockyard_env / "logs", dockyard_env / "backups" / "shop" / "testing"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert open_to_others(dockyard_env) == []


def test_an_older_homes_open_folder_is_closed_when_used(dockyard_env: Path, usual_umask: None) -> None:
    locks = settings.home() / "locks"
    locks.mkdir(mode=0o755)
    locks.chmod(0o755)
    with env_lock("shop", "testing"):
        pass
    assert stat.S_IMODE(locks.stat().st_mode) == 0o700
