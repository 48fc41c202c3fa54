"""Deploy locks on the real engine (issue 31): two deploys of one environment at once (one runs, the
other is refused naming the holder, or waits with --wait), and a lock taken by hand that refuses
every change, the scale override included, until it is released (someone else's with --force,
audited)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.json_schemas import check

pytestmark = pytest.mark.integration

# the release needs 3 s before it answers, and its release task sleeps $HOLD: a deploy holds the
# environment long enough to be met, however slowly a second `dockyard` starts on a loaded machine
SLOW_START = ('command: [httpd, -f, -p, "8080", -h, /www]',
              'command: [sh, -c, "sleep 3; exec httpd -f -p 8080 -h /www"]')
HOLDING = 'release: {command: "sleep ${HOLD:-0}"}\n'


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    done = run_cli(*args, env=env)
    assert done.returncode == 0, f"dockyard {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def refused(*args: str, env: dict[str, str] | None = None) -> str:
    done = run_cli(*args, env=env)
    assert done.returncode != 0, f"dockyard {' '.join(args)} was not refused:\n{done.stdout}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stderr


def containers(client: docker.DockerClient, app: str) -> list[tuple[str, str]]:
    return sorted((c.name, c.labels.get("dockyard.release", ""))
                  for c in client.containers.list(all=True, filters={"label": f"dockyard.app={app}"}))


@pytest.fixture
def app(tmp_path: Path, dockyard_env: Path, docker_client: docker.DockerClient,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[TestApp]:
    made = make_app(tmp_path)
    made.write("dockyard.yml", made.spec_file.read_text().replace(*SLOW_START) + HOLDING)
    made.commit("starts slowly")
    monkeypatch.chdir(made.path)
    ok("build")
    ok("config", "set", "testing", "GREETING=one")
    try:
        yield made
    finally:
        remove_app_resources(docker_client, made.name)


def holder_of(env: str) -> dict | None:
    rows = json.loads(ok("lock", "status", env, "--json"))
    return rows[0]["running"]


def test_two_deploys_at_once_one_runs_and_the_other_is_refused_or_waits(app: TestApp) -> None:
    ok("config", "set", "testing", "HOLD=15")  # the first deploy holds testing for 15 s at least
    dockyard = str(Path(sys.executable).parent / "dockyard")
    first = subprocess.Popen([dockyard, "deploy", "testing", "--skip-tests"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while (running := holder_of("testing")) is None:
            assert first.poll() is None and time.monotonic() < deadline, "the first deploy never held testing"
            time.sleep(0.05)
        assert (running["doing"], running["pid"], running["user"]) == ("deploy", first.pid, "tester")
        said = refused("deploy", "testing", "--skip-tests")
        assert f"{app.name}/testing is locked: held by tester (deploy, pid {first.pid}) since " in said
        assert "--wait" in said
        # the same, waiting: it runs once the first one is done
        second = ok("deploy", "testing", "--skip-tests", "--wait", "2m")
        assert "runs release" in second
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    assert holder_of("testing") is None


def test_a_lock_by_hand_refuses_every_change_until_released(app: TestApp, docker_client: docker.DockerClient) -> None:
    ok("deploy", "testing", "--skip-tests")
    app.write("www/index.html", "v2\n")
    app.commit("v2")
    ok("build")
    ok("deploy", "testing", "--skip-tests")  # a release to roll back to
    before = containers(docker_client, app.name)
    alice, bob = {"DOCKYARD_USER": "alice"}, {"DOCKYARD_USER": "bob"}
    taken = check("lock.schema.json", json.loads(ok("lock", "acquire", "testing", "-m", "migrating orders by hand",
                                                   "--json", env=alice)))
    assert taken["lock"]["user"] == "alice" and taken["lock"]["message"] == "migrating orders by hand"
    ok("config", "set", "staging", "GREETING=one")
    ok("lock", "acquire", "staging", "-m", "staging too", env=alice)

    app.write("www/index.html", "v3\n")
    app.commit("v3")
    ok("build")
    for change in (("deploy", "testing", "--skip-tests"), ("rollback", "testing"), ("scale", "testing", "web", "3"),
                   ("down", "testing", "--yes"), ("promote", "testing", "staging", "--skip-tests")):
        target, why = ("staging", "staging too") if change[0] == "promote" else ("testing", "migrating orders by hand")
        said = refused(*change, env=bob)
        assert f"{app.name}/{target} is locked: held by alice (by hand) since " in said, (change, said)
        assert f"'{why}'" in said and f"dockyard lock release {target}" in said, said
    assert containers(docker_client, app.name) == before  # not one container touched
    assert "had no override" in ok("scale", "testing", "web", "--clear")  # the refused scale wrote nothing

    status = check("lock-status.schema.json", json.loads(ok("lock", "status", "--json")))
    testing = next(row for row in status if row["env"] == "testing")
    assert testing["lock"]["by_hand"] and testing["lock"]["user"] == "alice" and testing["running"] is None
    assert "not yours" in refused("lock", "release", "testing", env=bob)
    released = check("lock.schema.json", json.loads(ok("lock", "release", "testing", "--force", "--json", env=bob)))
    assert released["released"] and released["lock"]["user"] == "alice"

    rows = json.loads(ok("audit", "--json", "--limit", "50"))
    actions = [(r["action"], r["target"], r["outcome"], r["detail"]) for r in rows]
    assert ("lock release", f"{app.name}/testing", "ok", "--force") in actions
    assert ("lock acquire", f"{app.name}/testing", "ok", None) in actions
    assert any(a == "deploy" and o.startswith("failed") and "locked" in o for a, _, o, _ in actions)

    assert "runs release" in ok("deploy", "testing", "--skip-tests", env=bob)
    assert containers(docker_client, app.name) != before
