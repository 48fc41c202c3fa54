"""Issue 12 on a real engine: a config file that holds a secret never enters the container's
writable layer (finding 9), a template cannot escape its sandbox on a CLI deploy (finding 2), and a
service with a port but nothing listening is not called healthy (finding 12)."""
from __future__ import annotations

from pathlib import Path

import docker
import pytest

from tests.apps import TestApp
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def ok(*args: str, input: str | None = None) -> str:
    result = run_cli(*args, input=input)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def containers(client: docker.DockerClient, app: str) -> list:
    return client.containers.list(filters={"label": [f"dockyard.app={app}", "dockyard.env=testing"]})


def test_a_rendered_file_with_a_secret_stays_off_the_writable_layer(test_app: TestApp,
                                                                    docker_client: docker.DockerClient) -> None:
    test_app.write("app.conf.j2", "greeting={{ GREETING }}\n")
    test_app.write("db.conf.j2", "dsn=postgres://app:{{ DB_PASSWORD }}@db/app\n")
    test_app.write("dockyard.yml", test_app.spec_file.read_text().replace(
        "files: {/etc/app/app.conf: app.conf.j2}",
        "files: {/etc/app/app.conf: app.conf.j2, /etc/app/db.conf: db.conf.j2}"))
    test_app.commit("a file with a secret")
    ok("config", "set", "testing", "GREETING=hello")
    ok("secret", "set", "testing", "DB_PASSWORD", input="pw-in-a-file-7781")
    ok("build")
    ok("deploy", "testing")
    running = containers(docker_client, test_app.name)
    assert running
    for container in running:
        assert container.exec_run(["cat", "/etc/app/db.conf"]).output == b"dsn=postgres://app:pw-in-a-file-7781@db/app\n"
        assert container.exec_run(["cat", "/etc/app/app.conf"]).output == b"greeting=hello\n"
        # The writable layer on the host (overlay2's upper dir): the plain file is there as before; the
        # one with the secret is only an empty mount point, and the secret is in no file of the layer.
        upper = Path(container.attrs["GraphDriver"]["Data"]["UpperDir"])
        assert (upper / "etc/app/app.conf").read_bytes() == b"greeting=hello\n"
        assert (upper / "etc/app/db.conf").read_bytes() == b""
        assert not [f for f in upper.rglob("*") if f.is_file() and b"pw-in-a-file" in f.read_bytes()]
        assert "pw-in-a-file" not in str(container.attrs)  # not in docker inspect either
        mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
        assert mounts["/etc/app/db.conf"]["RW"] is False


def test_a_template_escape_fails_the_deploy(test_app: TestApp, docker_client: docker.DockerClient) -> None:
    test_app.write("app.conf.j2", "{{ cycler.__init__.__globals__.os.popen('id').read() }}\n")
    test_app.commit("an escape")
    ok("config", "set", "testing", "GREETING=hello")
    ok("build")
    result = run_cli("deploy", "testing")
    assert result.returncode != 0 and "sandbox" in result.stderr and "uid=" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert containers(docker_client, test_app.name) == []


def test_a_port_with_nothing_listening_is_not_healthy(test_app: TestApp, docker_client: docker.DockerClient) -> None:
    spec = test_app.spec_file.read_text()
    spec = spec.replace("command: [httpd, -f, -p, \"8080\", -h, /www]", "command: [sleep, \"3600\"]")
    # a health: section without a path: the probe is a TCP connect to the published port
    spec = "".join(line if "health: {path: /health" not in line else "    health: {start_period: 4s}\n"
                   for line in spec.splitlines(keepends=True))
    test_app.write("dockyard.yml", spec)
    test_app.commit("listens on nothing")
    ok("config", "set", "testing", "GREETING=hello")
    ok("build")
    result = run_cli("deploy", "testing")
    assert result.returncode != 0, result.stdout
    assert "nothing listens" in result.stderr


def test_each_app_environment_has_a_network_of_its_own(test_app: TestApp, docker_client: docker.DockerClient) -> None:
    ok("config", "set", "testing", "GREETING=hello")
    ok("config", "set", "staging", "GREETING=hello")
    ok("build")
    ok("deploy", "testing")
    ok("deploy", "staging")
    seen = {}
    for env in ("testing", "staging"):
        for container in docker_client.containers.list(filters={"label": [f"dockyard.app={test_app.name}",
                                                                          f"dockyard.env={env}"]}):
            networks = set(container.attrs["NetworkSettings"]["Networks"])
            assert networks == {f"dockyard_{test_app.name}_{env}"}  # not the default bridge shared by all
            assert container.attrs["HostConfig"]["PidsLimit"] == 1024
            seen[env] = networks
    assert seen["testing"] != seen["staging"]
    labels = docker_client.networks.get(f"dockyard_{test_app.name}_testing").attrs["Labels"]
    assert labels["dockyard.app"] == test_app.name and labels["dockyard.env"] == "testing"


def test_a_read_only_service_gets_its_files_and_a_writable_tmp(test_app: TestApp,
                                                              docker_client: docker.DockerClient) -> None:
    test_app.write("dockyard.yml", test_app.spec_file.read_text().replace(
        "    port: 8080\n", "    port: 8080\n    read_only: true\n", 1))
    test_app.commit("read-only root")
    ok("config", "set", "testing", "GREETING=ro")
    ok("build")
    ok("deploy", "testing")
    running = containers(docker_client, test_app.name)
    assert running
    for container in running:
        assert container.attrs["HostConfig"]["ReadonlyRootfs"] is True
        assert container.exec_run(["cat", "/etc/app/app.conf"]).output == b"greeting=ro\n"
        assert container.exec_run(["touch", "/www/x"]).exit_code != 0
        assert container.exec_run(["touch", "/tmp/x"]).exit_code == 0
    again = run_cli("deploy", "testing")  # the same release: nothing to do, the hash includes read_only
    assert again.returncode == 0 and "already runs release" in again.stdout, again.stdout
