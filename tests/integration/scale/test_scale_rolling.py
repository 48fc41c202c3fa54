"""Scaling a rolling environment without a router, through the CLI: the launch template is the live
release, missing metrics never shrink, a deploy keeps the scaled count, bad input is one line."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import docker

from tests.apps import TestApp
from tests.conftest import run_cli

SCALING = "production: {engine: local, registry: remote, scaling: {web: {min: 1, max: 3, cpu_target: 50}}}"



def file_in(container: docker.models.containers.Container, path: str) -> bytes:
    """A file of the container, as the engine's archive API gives it (no process runs in it)."""
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile(tar.getmembers()[0])
        assert member is not None
        return member.read()

def ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def running(client: docker.DockerClient, app: str) -> list:
    found = client.containers.list(filters={"label": [f"dockyard.app={app}", "dockyard.env=production"]})
    return sorted(found, key=lambda c: c.name)


def template(container) -> tuple:
    a = container.attrs
    host = a["HostConfig"]
    # Each replica has its own tmpfs directory of secret files (same contents): compared below.
    labels = {k: v for k, v in a["Config"]["Labels"].items() if k not in ("dockyard.replica", "dockyard.secrets-dir")}
    env = sorted(a["Config"]["Env"])
    return (a["Config"]["Image"], a["Image"], a["Config"]["User"], host["NanoCpus"], host["Memory"],
            host["SecurityOpt"], host["CapDrop"], host["Init"], labels, env)


def test_scale_a_rolling_env_by_hand_and_by_the_loop(test_app: TestApp, docker_client: docker.DockerClient,
                                                      tmp_path: Path) -> None:
    spec = test_app.spec_file.read_text().replace("production: {engine: local, registry: remote}", SCALING)
    test_app.write("dockyard.yml", spec)
    test_app.commit("scaling")
    ok("build")
    ok("config", "set", "production", "GREETING=hi")
    result = run_cli("secret", "set", "production", "TOKEN", input="s3cret")
    assert result.returncode == 0, result.stderr
    ok("deploy", "production")
    assert len(running(docker_client, test_app.name)) == 2

    held = json.loads(ok("scale", "production", "web", "3", "--json"))
    assert (held["current"], held["desired"], held["override"]) == (2, 3, 3)
    rows = json.loads(ok("audit", "--json"))  # the override by hand, under the OS user (issue 12)
    assert (rows[0]["action"], rows[0]["target"], rows[0]["detail"], rows[0]["source"]) == (
        "scale", f"{test_app.name}/production/web", "3", "cli")
    assert held["outcome"].startswith("started 1 replica(s)")
    containers = running(docker_client, test_app.name)
    assert [c.name for c in containers] == [f"{test_app.name}_production_web_{n}" for n in (1, 2, 3)]
    # The new replica is the live release exactly: image, configuration, secrets, limits, user, security.
    assert template(containers[2]) == template(containers[0])
    # read through the engine's archive API: a short `docker exec`'s output came back empty once under load
    assert file_in(containers[2], "/etc/app/app.conf") == b"greeting=hi\n"
    assert file_in(containers[2], "/run/secrets/TOKEN") == b"s3cret"

    # No agent answers: the loop holds (even with the override gone), it never shrinks on missing data.
    ok("scale", "production", "web", "--clear")
    once = json.loads(ok("autoscale", "run", "--once", "--json", "--agent", "http://127.0.0.1:9"))
    assert [(e["service"], e["action"], e["current"], e["desired"]) for e in once] == [("web", "hold", 3, 3)]
    assert once[0]["reason"] == "no fresh samples (is the agent running?): hold"
    assert once[0]["outcome"] == "the agent at http://127.0.0.1:9 did not answer"

    # A deploy keeps the count the autoscaler left (dockyard.yml says 2).
    ok("config", "set", "production", "GREETING=again")
    ok("deploy", "production")
    containers = running(docker_client, test_app.name)
    assert len(containers) == 3 and len({c.labels["dockyard.release"] for c in containers}) == 1

    assert json.loads(ok("scale", "production", "web", "1", "--json"))["outcome"].startswith("removed ")
    assert [c.name for c in running(docker_client, test_app.name)] == [f"{test_app.name}_production_web_1"]
    status = json.loads(ok("autoscale", "status", "production", "--json"))
    assert [(s["service"], s["override"], s["last"]["desired"]) for s in status] == [("web", 1, 1)]
    assert [e["action"] for e in json.loads(ok("autoscale", "events", "--json"))] == ["scale-in", "scale-out"]

    for args in (("scale", "production", "nope", "2"), ("scale", "production", "web"),
                 ("scale", "nowhere", "web", "2")):
        result = run_cli(*args)
        assert result.returncode in (1, 2) and "Traceback" not in result.stderr and "error:" in result.stderr, args
