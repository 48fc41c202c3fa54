from __future__ import annotations

import http.server
import threading

import docker
import pytest

from dockyard.engine.client import connect
from dockyard.spec.model import TestSpec

pytestmark = pytest.mark.integration
IMAGE = "dockyard/busybox:1.35"


def spec(name: str, run: list[str], timeout: float = 30, kind: str = "image") -> TestSpec:
    test = TestSpec.model_validate({"run": run, "timeout": timeout, "kind": kind})
    test._name = name
    return test


@pytest.fixture
def engine():
    engine = connect("local")
    yield engine
    for c in engine.client.containers.list(all=True, filters={"label": "dockyard.managed-test=1"}):
        if c.labels.get("dockyard.app") == "testrun":
            c.remove(force=True)
    engine.close()


def test_pass_fail_and_output(engine) -> None:
    ok = engine.run_test(spec("ok", ["sh", "-c", "echo fine; exit 0"]), IMAGE, "testrun", "testing")
    assert ok.passed and ok.exit_code == 0 and "fine" in ok.output
    bad = engine.run_test(spec("bad", ["sh", "-c", "echo broken >&2; exit 3"]), IMAGE, "testrun", "testing")
    assert not bad.passed and bad.exit_code == 3 and "broken" in bad.output
    assert bad.summary() == f"test bad: failed (exit 3) in {bad.seconds:.1f}s"


def test_timeout_kills_the_test(engine, docker_client: docker.DockerClient) -> None:
    result = engine.run_test(spec("slow", ["sleep", "30"], timeout=1), IMAGE, "testrun", "testing")
    assert result.timed_out and not result.passed and result.seconds < 10
    assert docker_client.containers.list(all=True, filters={"label": "dockyard.test=slow"}) == []


def test_endpoint_test_reaches_target_url_on_loopback(engine) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        smoke = spec("smoke", ["sh", "-c", 'wget -qO- "$TARGET_URL/" >/dev/null && echo reached'], kind="endpoint")
        result = engine.run_test(smoke, IMAGE, "testrun", "testing", target_url=url)
        assert result.passed, result.output
        assert "reached" in result.output
    finally:
        server.shutdown()


def test_the_output_arrives_line_by_line_as_the_test_writes_it() -> None:
    """A run page shows a test step's lines as they are printed, not when the test ends (issue 30)."""
    import time

    engine = connect("local")  # an app of its own: the other tests' clean-up never meets its container
    seen: list[tuple[float, str]] = []
    slow = spec("slow-printer", ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 1; done; echo done >&2"])
    try:
        result = engine.run_test(slow, IMAGE, "testrun-live", "testing",
                                 progress=lambda line: seen.append((time.monotonic(), line)))
        ended = time.monotonic()
    finally:
        for c in engine.client.containers.list(all=True, filters={"label": "dockyard.app=testrun-live"}):
            c.remove(force=True)
        engine.close()
    assert result.passed, result.output
    assert [line for _at, line in seen] == ["line1", "line2", "line3", "done"]
    assert ended - seen[0][0] > 1.5  # line1 came while the test still ran, two seconds before its end
    assert "line3" in result.output
