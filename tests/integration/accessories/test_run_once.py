"""The one-off container of a dump's restore: a command that outlasts its time is stopped and said,
and its container is removed (docker-py's wait gives up with requests' timeout, not an engine error)."""

from __future__ import annotations

import io
import tarfile
import time

import docker
import pytest

from dockyard.engine.client import connect
from dockyard.errors import EngineError

pytestmark = pytest.mark.integration
LABELS = {"dockyard.app": "run-once-test"}


def empty_tar() -> io.BytesIO:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w"):
        pass
    data.seek(0)
    return data


def test_a_restore_command_that_outlasts_its_time_is_stopped_and_removed(docker_client: docker.DockerClient) -> None:
    engine = connect("local")
    try:
        started = time.monotonic()
        with pytest.raises(EngineError, match=r"sh -c echo restoring; sleep 60 did not end within 2 s and was "
                                              r"stopped: restoring"):
            engine.run_once("dockyard/busybox:1.35", ["sh", "-c", "echo restoring; sleep 60"], {}, "65534",
                            empty_tar(), {}, LABELS, timeout=2)
        assert time.monotonic() - started < 30
        engine.run_once("dockyard/busybox:1.35", ["true"], {}, "65534", empty_tar(), {}, LABELS, timeout=30)
    finally:
        engine.close()
    assert docker_client.containers.list(all=True, filters={"label": "dockyard.app=run-once-test"}) == []
