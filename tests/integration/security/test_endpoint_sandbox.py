"""An endpoint test from any branch reaches its target and nothing else on the host (issue 12,
finding 5): before, it ran with host networking and listed production config in etcd."""
from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from dockyard.engine.client import connect
from dockyard.spec.model import TestSpec

pytestmark = pytest.mark.integration

PROBE = ('wget -qO- "$TARGET_URL/index.html"; '
         'wget -qO- http://127.0.0.1:2379/version && echo REACHED-ETCD; '
         'wget -qO- http://127.0.0.1:5000/v2/ && echo REACHED-REGISTRY; '
         'echo probe-done')


@pytest.fixture
def target(docker_client: docker.DockerClient) -> Iterator[int]:
    container = docker_client.containers.run(
        "dockyard/busybox:1.35", ["sh", "-c", "mkdir -p /tmp/www && echo target-page > /tmp/www/index.html && "
                                 "httpd -f -p 8080 -h /tmp/www"], detach=True,
        ports={"8080/tcp": ("127.0.0.1", None)}, labels={"dockyard.app": "sandbox-test"})
    try:
        container.reload()
        yield int(container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
    finally:
        container.remove(force=True)


def test_an_endpoint_test_reaches_only_its_target(target: int, docker_client: docker.DockerClient,
                                                  dockyard_env: object) -> None:
    engine = connect("local")
    test = TestSpec.model_validate({"run": ["sh", "-c", PROBE], "timeout": 30})
    assert test.kind == "endpoint"
    result = engine.run_test(test, "dockyard/busybox:1.35", "sandbox-test", "testing",
                      target_url=f"http://127.0.0.1:{target}")
    assert "target-page" in result.output and "probe-done" in result.output, result.output
    assert "REACHED" not in result.output
    leftovers = docker_client.containers.list(all=True, filters={"label": "dockyard.app=sandbox-test"})
    assert [c.name for c in leftovers if "dockyard.test" in c.labels or "dockyard.sandbox" in c.labels] == []
