"""The e2e tests' shared fixture: a copy of examples/hello under a name of its own, in its own git repository."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.conftest import remove_app_networks

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def example_copy(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    name = "e2e-" + secrets.token_hex(3)
    app_dir = tmp_path / name
    shutil.copytree(REPO / "examples/hello", app_dir)
    spec = app_dir / "dockyard.yml"
    spec.write_text(spec.read_text().replace("app: hello", f"app: {name}", 1))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.email=e2e@example.invalid", "-c", "user.name=e2e", "commit", "-qm", "example"]):
        subprocess.run(["git", "-C", str(app_dir), *args], check=True)
    yield app_dir, name
    client = docker.from_env()
    for container in client.containers.list(all=True, filters={"label": f"dockyard.app={name}"}):
        container.remove(force=True)
    remove_app_networks(client, name)
    for volume in client.volumes.list(filters={"label": f"dockyard.app={name}"}):
        volume.remove(force=True)
    client.close()
