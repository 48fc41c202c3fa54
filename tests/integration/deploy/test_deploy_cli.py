"""The core flow through the real CLI on the real engine: build once, deploy, change, roll back."""

from __future__ import annotations

import json

import docker
import httpx
import pytest

from tests.apps import TestApp
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def ok(*args: str, input: str | None = None) -> str:
    result = run_cli(*args, input=input)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def ps(env: str) -> list[dict]:
    return json.loads(ok("ps", env, "--json"))


def page(url: str, path: str = "/cgi-bin/env") -> str:
    return httpx.get(url + path, timeout=5).text


def test_build_deploy_change_and_rollback(test_app: TestApp, docker_client: docker.DockerClient) -> None:
    build = json.loads(ok("build", "--json"))
    assert build["reused"] is False and set(build["pushed"]) == {"127.0.0.1:5000", "127.0.0.1:5001"}
    assert json.loads(ok("build", "--json"))["reused"] is True  # built once per commit

    # Missing configuration fails before any container exists, naming every missing key.
    test_app.write("dockyard.yml", test_app.spec_file.read_text().replace("[GREETING]", "[GREETING, DB_HOST]"))
    test_app.commit("require DB_HOST")
    ok("build")
    failed = run_cli("deploy", "testing")
    assert failed.returncode != 0
    assert "required configuration missing: GREETING, DB_HOST" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert ps("testing") == []

    ok("config", "set", "testing", "GREETING=hello", "DB_HOST=db1")
    ok("secret", "set", "testing", "DB_PASSWORD", input="pa55-word-xyz\n")
    ok("deploy", "testing")
    first = ps("testing")
    assert [(c["replica"], c["state"], c["health"]) for c in first] == [(1, "running", "healthy"),
                                                                       (2, "running", "healthy")]
    env_page = page(first[0]["url"])
    assert "GREETING=hello" in env_page and "file /etc/app/app.conf: greeting=hello" in env_page
    assert "secret-file DB_PASSWORD" in env_page and "pa55-word-xyz" not in env_page
    inspect = json.dumps(docker_client.api.inspect_container(first[0]["name"]))
    assert "pa55-word-xyz" not in inspect
    assert docker_client.containers.get(first[0]["name"]).exec_run("cat /run/secrets/DB_PASSWORD").output == \
        b"pa55-word-xyz"
    assert docker_client.api.inspect_container(first[0]["name"])["Config"]["User"] == "65534:65534"

    # The same release again changes nothing.
    again = ok("deploy", "testing")
    assert "already runs release" in again
    assert [c["id"] for c in ps("testing")] == [c["id"] for c in first]

    # A config change is a new release on the same image.
    ok("config", "set", "testing", "GREETING=bonjour")
    ok("deploy", "testing")
    second = ps("testing")
    assert second[0]["release_id"] != first[0]["release_id"]
    assert "GREETING=bonjour" in page(second[0]["url"])

    # Rollback restores the previous release: the image and the configuration of that time.
    ok("rollback", "testing")
    rolled = ps("testing")
    assert {c["release_id"] for c in rolled} == {first[0]["release_id"]}
    assert "GREETING=hello" in page(rolled[1]["url"])
    releases = json.loads(ok("releases", "testing", "--json"))
    assert [r["status"] for r in releases] == ["live", "superseded", "superseded"]
    assert releases[0]["note"].startswith("rollback to")


def test_failed_health_check_keeps_the_old_release(test_app: TestApp) -> None:
    ok("config", "set", "testing", "GREETING=hi")
    ok("build")
    ok("deploy", "testing")
    before = ps("testing")

    test_app.write("www/health", "")
    (test_app.path / "www/health").unlink()
    test_app.commit("break the health endpoint")
    ok("build")
    failed = run_cli("deploy", "testing")
    assert failed.returncode == 1
    assert "did not become healthy" in failed.stderr and "GET /health: HTTP 404" in failed.stderr
    assert "last log lines" in failed.stderr
    after = ps("testing")
    assert [(c["id"], c["name"], c["health"]) for c in after] == [
        (c["id"], c["name"], "healthy") for c in before]


def test_dry_run_changes_nothing_and_promote_moves_the_digest(test_app: TestApp) -> None:
    ok("config", "set", "testing", "GREETING=t")
    ok("config", "set", "staging", "GREETING=s")
    ok("build")
    plan = ok("deploy", "testing", "--dry-run")
    assert "create   web replica 1" in plan and "dry run" in plan
    assert ps("testing") == []
    ok("deploy", "testing")
    ok("promote", "testing")
    staging = ps("staging")
    testing = ps("testing")
    assert len(staging) == 2 and all(c["health"] == "healthy" for c in staging)
    assert staging[0]["commit_sha"] == testing[0]["commit_sha"]
    testing_image = json.loads(ok("releases", "testing", "--json"))[0]["image"]
    staging_image = json.loads(ok("releases", "staging", "--json"))[0]["image"]
    assert testing_image.startswith("127.0.0.1:5000/") and staging_image.startswith("127.0.0.1:5001/")
    assert testing_image.split("@")[1] == staging_image.split("@")[1]  # the same image, never rebuilt
    assert "GREETING=s" in page(staging[0]["url"])


def test_dirty_tree_is_refused(test_app: TestApp) -> None:
    test_app.write("www/index.html", "uncommitted\n")
    result = run_cli("build")
    assert result.returncode != 0 and "uncommitted changes" in result.stderr
    dirty = json.loads(ok("build", "--allow-dirty", "--no-push", "--json"))
    assert dirty["dirty"] is True and "-dirty-" in dirty["tag"]


def test_exec_runs_a_command_in_a_running_replica(test_app: TestApp) -> None:
    ok("config", "set", "testing", "GREETING=from-exec")
    ok("build")
    ok("deploy", "testing")
    result = run_cli("exec", "testing", "web", "--", "cat", "/etc/app/app.conf")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "greeting=from-exec"
    assert run_cli("exec", "testing", "web", "--", "sh", "-c", "exit 3").returncode == 3
    missing = run_cli("exec", "staging", "web", "--", "true")
    assert missing.returncode != 0 and "no running container" in missing.stderr
