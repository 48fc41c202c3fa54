"""Volumes on the real engine (issue 16): a service's data survives new releases, a rollback, a
`down` and a redeploy; only `down --purge` removes it. A volume one container at a time writes is
never given a second writer (scaling out refused); a shared one is seen by every replica."""

from __future__ import annotations

from pathlib import Path

import docker
import httpx
import pytest

from dockyard.engine import labels as L
from tests.apps import DOCKERFILE, TestApp, make_app
from tests.conftest import remove_app_resources, run_cli

pytestmark = pytest.mark.integration

RECORDS_CGI = """\
#!/bin/sh
echo "Content-Type: text/plain"
echo
case "$QUERY_STRING" in
  add=*) echo "${QUERY_STRING#add=}" >> /data/records && echo added ;;
  *) cat /data/records 2>/dev/null ;;
esac
"""


def ok(*args: str, cwd: Path) -> str:
    result = run_cli(*args, cwd=cwd)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def volume_app(tmp_path: Path, replicas: int = 1, shared: bool = False) -> TestApp:
    app = make_app(tmp_path, replicas=replicas, extra_envs="  site: {engine: local, registry: local}\n")
    # the image's /data belongs to the app's user: a new volume takes its owner from it
    app.write("Dockerfile", DOCKERFILE.replace("USER", 'RUN ["/bin/sh", "-c", "mkdir /data && chown 65534 /data"]\n'
                                                        "USER"))
    app.write("www/cgi-bin/records", RECORDS_CGI)
    volume = "{name: data, path: /data" + (", shared: true}" if shared else "}")
    app.write("dockyard.yml", app.spec_file.read_text().replace(
        f"    replicas: {replicas}\n", f"    replicas: {replicas}\n    volumes: [{volume}]\n"))
    app.commit("records on a volume")
    return app


def ports(client: docker.DockerClient, app: TestApp) -> list[int]:
    """The 127.0.0.1 ports of the app's running replicas."""
    found = client.containers.list(filters=L.scope_filters(app.name, "site", "web"))
    return sorted(port for c in found if (port := L.loopback_port(c.attrs, 8080)))


def records(port: int) -> list[str]:
    return httpx.get(f"http://127.0.0.1:{port}/cgi-bin/records", timeout=5).text.split()


@pytest.fixture
def apps(docker_client: docker.DockerClient, dockyard_env: Path):
    made: list[TestApp] = []
    yield made
    for app in made:
        remove_app_resources(docker_client, app.name)


def test_data_survives_releases_a_rollback_and_down_until_purged(apps, tmp_path: Path,
                                                                  docker_client: docker.DockerClient) -> None:
    app = volume_app(tmp_path)
    apps.append(app)
    ok("build", cwd=app.path)
    ok("config", "set", "site", "GREETING=one", cwd=app.path)
    ok("deploy", "site", cwd=app.path)
    name = f"dockyard_{app.name}_site_web_data"
    assert docker_client.volumes.get(name).attrs["Labels"] == {
        L.MANAGED: "1", L.APP: app.name, L.ENV: "site", L.SERVICE: "web", L.VOLUME: "data"}
    [port] = ports(docker_client, app)
    for n in range(50):
        assert httpx.get(f"http://127.0.0.1:{port}/cgi-bin/records?add={n}", timeout=5).text.strip() == "added"
    want = [str(n) for n in range(50)]

    ok("config", "set", "site", "GREETING=two", cwd=app.path)
    ok("deploy", "site", cwd=app.path)  # a new release: a new container on the same volume
    [second] = ports(docker_client, app)
    assert second != port and records(second) == want
    httpx.get(f"http://127.0.0.1:{second}/cgi-bin/records?add=50", timeout=5)
    ok("rollback", "site", cwd=app.path)
    assert records(ports(docker_client, app)[0]) == [*want, "50"]

    refused = run_cli("scale", "site", "web", "2", cwd=app.path)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    line = next(n for n, text in enumerate(app.spec_file.read_text().splitlines(), 1) if "volumes:" in text)
    assert f"dockyard.yml:{line}: web cannot run 2 replicas: its volume data is written by one container at a " \
           "time" in refused.stderr

    down = ok("down", "site", "--yes", cwd=app.path)
    assert f"kept volume {name}" in down and ports(docker_client, app) == []
    ok("deploy", "site", cwd=app.path)
    assert records(ports(docker_client, app)[0]) == [*want, "50"]
    purged = ok("down", "site", "--purge", "--yes", cwd=app.path)
    assert f"removed volume {name}" in purged
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(name)


def test_a_shared_volume_is_seen_by_every_replica(apps, tmp_path: Path, docker_client: docker.DockerClient) -> None:
    app = volume_app(tmp_path, replicas=2, shared=True)
    apps.append(app)
    ok("build", cwd=app.path)
    ok("config", "set", "site", "GREETING=one", cwd=app.path)
    ok("deploy", "site", cwd=app.path)
    first, second = ports(docker_client, app)
    httpx.get(f"http://127.0.0.1:{first}/cgi-bin/records?add=from-first", timeout=5)
    assert records(second) == ["from-first"]


def test_two_writers_are_refused_before_anything_starts(apps, tmp_path: Path,
                                                         docker_client: docker.DockerClient) -> None:
    app = volume_app(tmp_path, replicas=2)
    apps.append(app)
    refused = run_cli("deploy", "site", cwd=app.path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    line = next(n for n, text in enumerate(app.spec_file.read_text().splitlines(), 1) if "replicas: 2" in text)
    assert f"dockyard.yml:{line}: services.web.replicas: 2 replicas: volume data of web is written by one " \
           "container at a time" in refused.stderr
    assert docker_client.containers.list(all=True, filters={"label": f"{L.APP}={app.name}"}) == []
    assert docker_client.volumes.list(filters={"label": f"{L.APP}={app.name}"}) == []


SHOW_CGI = """\
#!/bin/sh
echo "Content-Type: text/plain"
echo
cat /shared/note
"""


def test_a_host_folder_is_mounted_only_once_the_site_allows_it(apps, tmp_path: Path,
                                                                 docker_client: docker.DockerClient) -> None:
    app = make_app(tmp_path, replicas=1, extra_envs="  site: {engine: local, registry: local}\n")
    apps.append(app)
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "note").write_text("from the host\n")
    app.write("www/cgi-bin/show", SHOW_CGI)
    app.write("dockyard.yml", app.spec_file.read_text().replace(
        "    replicas: 1\n", f"    replicas: 1\n    binds: [{{host: {folder}, path: /shared, read_only: true}}]\n"))
    app.commit("a host folder")
    ok("build", cwd=app.path)
    ok("config", "set", "site", "GREETING=one", cwd=app.path)
    refused = run_cli("deploy", "site", cwd=app.path)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    line = next(n for n, text in enumerate(app.spec_file.read_text().splitlines(), 1) if "binds:" in text)
    assert (f"dockyard.yml:{line}: services.web.binds[0]: host folder {folder} is not one engine 'local' allows "
            "(allowed: none)") in refused.stderr
    assert docker_client.containers.list(all=True, filters={"label": f"{L.APP}={app.name}"}) == []

    ok("engine", "add", "local", "--host", "unix:///var/run/docker.sock", "--allow-bind", str(tmp_path), cwd=app.path)
    ok("deploy", "site", cwd=app.path)
    [port] = ports(docker_client, app)
    assert httpx.get(f"http://127.0.0.1:{port}/cgi-bin/show", timeout=5).text == "from the host\n"
