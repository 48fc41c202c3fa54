"""Issue 28, on a real engine: a commit decides what it runs, never under whose name, where, or with
which rights. Each attack is refused, naming the field, and nothing is applied: app A still serves A."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli

pytestmark = pytest.mark.integration


def ok(*args: str, cwd: Path | None = None) -> str:
    result = run_cli(*args, cwd=cwd)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def refused(*args: str, cwd: Path | None = None) -> str:
    result = run_cli(*args, cwd=cwd)
    assert result.returncode == 3, f"dockyard {' '.join(args)}: exit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stderr


def replicas_of(client: docker.DockerClient, app: str) -> set[tuple[str, str]]:
    """(container id, release) of the app's testing replicas."""
    found = client.containers.list(filters={"label": [f"dockyard.app={app}", "dockyard.env=testing"]})
    return {(c.id, c.labels["dockyard.release"]) for c in found}


@pytest.fixture
def intruder(tmp_path: Path, dockyard_env: Path, docker_client: docker.DockerClient) -> Iterator[TestApp]:
    app = make_app(tmp_path / "other")
    try:
        yield app
    finally:
        remove_app_resources(docker_client, app.name)


def test_a_commit_of_app_b_cannot_become_app_a(test_app: TestApp, intruder: TestApp,
                                               docker_client: docker.DockerClient) -> None:
    ok("config", "set", "testing", "GREETING=from-a")
    ok("build")
    ok("deploy", "testing")
    ok("app", "add", test_app.name, "--repo", str(test_app.path))
    before = replicas_of(docker_client, test_app.name)
    assert before

    # B is registered under its own name; its commit says it is A
    ok("app", "add", intruder.name, "--repo", str(intruder.path))
    intruder.write("dockyard.yml", intruder.spec_file.read_text().replace(f"app: {intruder.name}",
                                                                          f"app: {test_app.name}"))
    intruder.commit("become A")
    said = refused("pipeline", "trigger", "--app", intruder.name, "--branch", "main")
    assert f"dockyard.yml:1: app is '{test_app.name}', but this repository is registered as '{intruder.name}'" in said
    assert json.loads(ok("pipeline", "ls", "--json")) == []  # no run queued

    # from B's checkout, the CLI cannot move A's registration to B's repository either
    said = refused("pipeline", "run", cwd=intruder.path)
    assert f"app '{test_app.name}' is registered with repository {test_app.path}" in said
    apps = {a["app"]: a["repo"] for a in json.loads(ok("app", "ls", "--json"))}
    assert apps[test_app.name] == str(test_app.path)
    assert replicas_of(docker_client, test_app.name) == before  # A still runs A's release, untouched


def test_root_capabilities_and_binds_stay_inside_the_site_s_bounds(test_app: TestApp, tmp_path: Path,
                                                                   docker_client: docker.DockerClient) -> None:
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    (shared / "link").symlink_to("/")
    ok("engine", "add", "local", "--host", "unix:///var/run/docker.sock", "--allow-bind", str(shared))
    ok("config", "set", "testing", "GREETING=one")
    ok("build")
    spec = test_app.spec_file.read_text()

    def deploy_with(service_lines: str) -> str:
        test_app.write("dockyard.yml", spec.replace("    replicas: 2\n", "    replicas: 2\n" + service_lines, 1))
        test_app.commit("bounds")
        ok("build")
        return refused("deploy", "testing")

    said = deploy_with('    user: "0"\n')
    assert "services.web.user '0' is root, which the site does not allow" in said
    said = deploy_with("    capabilities: [SYS_ADMIN]\n")
    assert "services.web.capabilities SYS_ADMIN: not allowed" in said
    said = deploy_with(f"    binds: [{{host: {shared}, path: /mnt}}, {{host: {shared}/data, path: /data}}]\n")
    assert f"host folder {shared}/data lies inside {shared}, which services.web mounts writable" in said
    assert replicas_of(docker_client, test_app.name) == set()  # nothing of it started

    # through a symlink: refused at deploy (a refusal of another kind: the engine's bind check, exit 1)
    test_app.write("dockyard.yml", spec.replace("    replicas: 2\n", f"    replicas: 2\n    binds: [{{host: "
                                                f"{shared}/link, path: /host, read_only: true}}]\n", 1))
    test_app.commit("a bind through a symlink")
    ok("build")
    linked = run_cli("deploy", "testing")
    assert linked.returncode == 1 and "goes through a symlink (to /)" in linked.stderr, linked.stderr

    # the site allows root for this app: it runs as root with every capability dropped and no-new-privileges
    ok("app", "policy", test_app.name, "--allow-root")
    test_app.write("dockyard.yml", spec.replace("    replicas: 2\n", '    replicas: 1\n    user: "0"\n', 1))
    test_app.commit("root, allowed")
    ok("build")
    ok("deploy", "testing")
    [(container_id, _release)] = replicas_of(docker_client, test_app.name)
    attrs = docker_client.containers.get(container_id).attrs
    assert attrs["Config"]["User"] == "0" and attrs["HostConfig"]["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in attrs["HostConfig"]["SecurityOpt"]
    audit = json.loads(ok("audit", "--json"))
    assert any(r["action"] == "app policy" and r["detail"] == "--allow-root" for r in audit)
    assert os.stat(shared / "data").st_uid == os.getuid()  # the refused binds never mounted anything


def test_a_branch_cannot_move_what_the_default_branch_chose(test_app: TestApp) -> None:
    ok("app", "add", test_app.name, "--repo", str(test_app.path))
    test_app.git("checkout", "-q", "-b", "feature")
    test_app.write("dockyard.yml", test_app.spec_file.read_text().replace(
        "testing: {engine: local,", "testing: {engine: elsewhere,"))
    sha = test_app.commit("move testing")
    test_app.git("checkout", "-q", "main")  # the repository's default branch is main (its HEAD)
    said = refused("pipeline", "trigger", "--app", test_app.name, "--branch", "feature", "--commit", sha)
    assert "environments.testing.engine differs from the default branch ('local' there, 'elsewhere' here)" in said
    assert "a commit on branch 'feature' cannot change where the app runs" in said
    assert json.loads(ok("pipeline", "ls", "--json")) == []
