"""An environment on a second dockerd that requires TLS client certificates (the account's
"client and server certificates for the Docker API"): refused without them, deployed with them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import docker.tls
import httpx
import pytest
import requests

from tests.apps import TestApp
from tests.conftest import remove_app_networks, run_cli

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
PORT = 2386
DAEMON_ENV = {"TLS_DOCKERD_PORT": str(PORT), "TLS_DOCKERD_BRIDGE": "dy-tlstest",
              "TLS_DOCKERD_BRIDGE_CIDR": "10.215.0.1/24"}


def script(*args: str) -> str:
    import os

    result = subprocess.run(["bash", str(REPO / "scripts/tls-dockerd.sh"), *args], capture_output=True, text=True,
                            env={**os.environ, **DAEMON_ENV}, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def tls_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    directory = tmp_path_factory.mktemp("tls-dockerd")
    script("start", str(directory))
    try:
        env = dict(line.split("=", 1) for line in script("env", str(directory)).split() if "=" in line)
        yield env
    finally:
        script("stop", str(directory))
    # A second daemon must never take the main one's bridge with it (a restart included).
    script("start", str(directory))
    script("stop", str(directory))
    assert subprocess.run(["ip", "link", "show", "docker0"], capture_output=True).returncode == 0


def tls_client(env: dict[str, str], with_cert: bool = True) -> docker.DockerClient:
    cert = (env["TLS_CERT"], env["TLS_KEY"]) if with_cert else None
    tls = docker.tls.TLSConfig(client_cert=cert, ca_cert=env["TLS_CA"], verify=env["TLS_CA"])
    client = docker.DockerClient(base_url=env["TLS_HOST"], tls=tls, timeout=30, version="1.41")
    client.api.trust_env = False  # verify against our CA, not REQUESTS_CA_BUNDLE
    return client


def test_engine_without_client_certificate_is_refused(tls_engine: dict[str, str], test_app: TestApp) -> None:
    with pytest.raises((docker.errors.DockerException, requests.exceptions.RequestException)):
        tls_client(tls_engine, with_cert=False).ping()
    # Registered without the client certificate, Dockyard says what is wrong and exits non-zero.
    assert run_cli("engine", "add", "no-cert", "--host", tls_engine["TLS_HOST"], "--tls-ca",
                   tls_engine["TLS_CA"]).returncode == 0
    test_app.write("dockyard.yml", test_app.spec_file.read_text() +
                   "  elsewhere: {engine: no-cert, registry: remote, strategy: recreate}\n")
    test_app.commit("engine without cert")
    run_cli("config", "set", "elsewhere", "GREETING=x")
    assert run_cli("build").returncode == 0
    result = run_cli("deploy", "elsewhere")
    assert result.returncode != 0
    assert "engine 'no-cert' at tcp://127.0.0.1:2386 is not reachable" in result.stderr
    assert "Traceback" not in result.stderr


def test_deploy_to_tls_engine(tls_engine: dict[str, str], test_app: TestApp) -> None:
    added = run_cli("engine", "add", "tls-test", "--host", tls_engine["TLS_HOST"], "--tls-ca", tls_engine["TLS_CA"],
                    "--tls-cert", tls_engine["TLS_CERT"], "--tls-key", tls_engine["TLS_KEY"])
    assert added.returncode == 0, added.stderr
    test_app.write("dockyard.yml", test_app.spec_file.read_text() +
                   "  remote: {engine: tls-test, registry: remote, strategy: recreate}\n")
    test_app.commit("remote env")
    client = tls_client(tls_engine)
    try:
        assert run_cli("config", "set", "remote", "GREETING=over-tls").returncode == 0
        assert run_cli("secret", "set", "remote", "TOKEN", input="tls-secret-123\n").returncode == 0
        assert run_cli("build").returncode == 0
        deployed = run_cli("deploy", "remote")
        assert deployed.returncode == 0, deployed.stderr
        on_remote = client.containers.list(filters={"label": f"dockyard.app={test_app.name}"})
        assert sorted(c.name for c in on_remote) == [f"{test_app.name}_remote_web_1", f"{test_app.name}_remote_web_2"]
        rows = json.loads(run_cli("ps", "remote", "--json").stdout)
        assert [r["health"] for r in rows] == ["healthy", "healthy"]
        page = httpx.get(rows[0]["url"] + "/cgi-bin/env", timeout=5).text
        assert "GREETING=over-tls" in page and "secret-file TOKEN" in page
        assert "tls-secret-123" not in json.dumps(client.api.inspect_container(on_remote[0].id))
    finally:
        for container in client.containers.list(all=True, filters={"label": f"dockyard.app={test_app.name}"}):
            container.remove(force=True)
        remove_app_networks(client, test_app.name)
        client.close()


def test_an_endpoint_test_on_the_tls_engine_is_sandboxed_too(tls_engine: dict[str, str], dockyard_env: object) -> None:
    """The TLS engine has an image store of its own: the sandbox brings its holder image there
    (save/load from the local engine), and the test reaches its target only (issue 12, finding 5)."""
    from dockyard.engine.client import connect
    from dockyard.engine.sandbox import HOLDER_IMAGE, ensure_holder_image
    from dockyard.spec.model import TestSpec

    added = run_cli("engine", "add", "tls-sandbox", "--host", tls_engine["TLS_HOST"], "--tls-ca", tls_engine["TLS_CA"],
                    "--tls-cert", tls_engine["TLS_CERT"], "--tls-key", tls_engine["TLS_KEY"])
    assert added.returncode == 0, added.stderr
    engine = connect("tls-sandbox")
    try:
        ensure_holder_image(engine, lambda: connect("local"))
        target = engine.client.containers.run(
            HOLDER_IMAGE, ["sh", "-c", "mkdir -p /tmp/w && echo tls-target > /tmp/w/index.html && "
                           "httpd -f -p 8080 -h /tmp/w"], detach=True, ports={"8080/tcp": ("127.0.0.1", None)},
            labels={"dockyard.app": "tls-sandbox-test"})
        try:
            target.reload()
            port = target.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
            probe = ('wget -qO- "$TARGET_URL/index.html"; wget -qO- http://127.0.0.1:2379/version && '
                     'echo REACHED-ETCD; echo probe-done')
            result = engine.run_test(TestSpec.model_validate({"run": ["sh", "-c", probe], "timeout": 30}),
                              HOLDER_IMAGE, "tls-sandbox-test", "staging", target_url=f"http://127.0.0.1:{port}")
        finally:
            target.remove(force=True)
        assert "tls-target" in result.output and "probe-done" in result.output and "REACHED" not in result.output
    finally:
        engine.close()
