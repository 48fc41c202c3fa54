from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.integration.bluegreen.helpers import cleanup, make_bg_app


@pytest.fixture
def bg_app(tmp_path: Path, dockyard_env: Path, docker_client: docker.DockerClient,
           monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[tuple]:
    window = getattr(request, "param", "5m")
    app, live, preview = make_bg_app(tmp_path, window=window)
    monkeypatch.chdir(app.path)
    try:
        yield app, live, preview
    finally:
        cleanup(docker_client, app, dockyard_env)
