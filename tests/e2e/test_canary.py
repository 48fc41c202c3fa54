"""Canary releases through the host's edge under load (issue 32), on the real engine and HAProxy:
a good release promoted through 3 steps with no failed request, the weights seen in the answers
within 5 points of each step's, sticky clients that never flip back; a release answering 5 % 500s
and one 3x slower aborted by themselves at their first step, the stable release serving throughout;
a rollout whose deploy is killed (kill -9) during a pause taken over by the server and ended."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.router.edge import Edge
from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.integration.bluegreen.load import Hit, Load
from tests.ports import free_port

pytestmark = pytest.mark.e2e

# each answer names the release; FAIL_PERCENT and DELAY_US (configuration) make a bad release
CANARY_CGI = """\
#!/bin/sh
[ -n "$DELAY_US" ] && usleep "$DELAY_US"
if [ -n "$FAIL_PERCENT" ] && [ $((RANDOM % 100)) -lt "$FAIL_PERCENT" ]; then
  printf 'Status: 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\n%s failed\\n' "$DOCKYARD_RELEASE"
  exit 0
fi
printf 'Content-Type: text/plain\\r\\n\\r\\n%s %s\\n' "$DOCKYARD_RELEASE" "$DOCKYARD_COLOR"
"""
BASE_DELAY = "5000"  # µs: every release sleeps this long, so a latency ratio is about the app, not the fork


def canary_app(root: Path, domain: str, steps: str) -> TestApp:
    env = (f"  live:\n    engine: local\n    registry: local\n    strategy: canary\n    domains: [{domain}]\n"
           f"    canary:\n      steps: {steps}\n      match: {{header: X-Canary, cookie: canary}}\n"
           "      analysis: {max_5xx_ratio: 0.01, max_latency_ratio: 2, latency_floor_ms: 1, min_requests: 20,\n"
           "                 interval: 1s}\n")
    app = make_app(root, replicas=2, extra_envs=env)
    app.write("www/cgi-bin/release", CANARY_CGI)
    app.commit("a release page")
    return app


def ok(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = run_cli(*args, cwd=cwd, env=env)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def rollout(app: TestApp) -> dict:
    return json.loads(ok("rollout", "status", "live", "--json", cwd=app.path))["rollout"]


def releases(app: TestApp) -> list[dict]:
    return json.loads(ok("releases", "live", "--json", cwd=app.path))


@pytest.fixture
def edge(dockyard_env: Path, docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[tuple[int, list]]:
    port = free_port()
    ok("edge", "configure", "--address", "127.0.0.1", "--http-port", str(port), cwd=tmp_path)
    apps: list[TestApp] = []
    try:
        yield port, apps
    finally:
        for app in apps:
            remove_app_resources(docker_client, app.name)
        Edge(home=dockyard_env).stop(timeout=5)


def loads(port: int, domain: str) -> tuple[Load, Load]:
    """2 threads without cookies (the weights) and 2 that keep theirs (stickiness)."""
    url = f"http://127.0.0.1:{port}/cgi-bin/release"
    fresh = Load(url, threads=2, pause=0.002, headers={"Host": domain}, sticky=False, max_seconds=150)
    sticky = Load(url, threads=2, pause=0.002, headers={"Host": domain}, max_seconds=150)
    return fresh.start(), sticky.start()


def on_wall(hits: list[Hit], wall0: float, mono0: float) -> list[tuple[float, Hit]]:
    return [(wall0 + (h.sent - mono0), h) for h in hits]


def first_release(app: TestApp) -> str:
    ok("build", cwd=app.path)
    ok("config", "set", "live", "GREETING=one", f"DELAY_US={BASE_DELAY}", cwd=app.path)
    ok("deploy", "live", cwd=app.path)
    (live,) = [r for r in releases(app) if r["status"] == "live"]
    return str(live["release_id"])


def test_a_good_canary_goes_through_its_steps_and_a_bad_one_aborts_itself(edge, tmp_path: Path,
                                                                          docker_client: docker.DockerClient) -> None:
    port, apps = edge
    domain = "canary.test"
    app = canary_app(tmp_path, domain, "[{weight: 10, pause: 8s}, {weight: 30, pause: 8s}, {weight: 60, pause: 8s}]")
    apps.append(app)
    stable = first_release(app)

    # a good release, promoted through its 3 steps under load
    ok("config", "set", "live", "GREETING=two", cwd=app.path)
    fresh, sticky = loads(port, domain)
    wall0, mono0 = time.time(), time.monotonic()
    out = ok("deploy", "live", cwd=app.path)
    hits_fresh, hits_sticky = fresh.stop(), sticky.stop()
    assert "promoted" in out, out
    done = rollout(app)
    assert done["state"] == "promoted"
    canary = done["release"]
    assert [(s["weight"], s["decision"]) for s in done["analysis"]] == [(10, "advance"), (30, "advance"),
                                                                        (60, "promote")]
    everything = hits_fresh + hits_sticky
    assert everything and all(h.status == 200 for h in everything), [h for h in everything if h.status != 200][:5]
    for step in done["analysis"]:  # the requests sent within the step (a half-second aside at each end)
        inside = [h for t, h in on_wall(hits_fresh, wall0, mono0) if step["began_at"] + 0.5 <= t <= step["ended_at"] - 0.5]
        seen = 100 * sum(h.body.startswith(canary) for h in inside) / len(inside)
        assert abs(seen - step["weight"]) <= 5, (step["weight"], seen, len(inside))
    for worker in (0, 1):  # once a client saw the canary, it saw nothing else
        answers = [h.body.split(" ")[0] for h in sorted(hits_sticky, key=lambda h: h.sent) if h.worker == worker]
        assert canary in answers
        assert stable not in answers[answers.index(canary):]
    containers = docker_client.containers.list(filters={"label": f"dockyard.app={app.name}"})
    assert {c.labels["dockyard.release"] for c in containers} == {canary}
    assert [r["status"] for r in releases(app)][:2] == ["live", "superseded"]

    # a release answering 5 % 500s: aborted at its first step by the 5xx rule
    ok("config", "set", "live", "FAIL_PERCENT=5", cwd=app.path)
    fresh, sticky = loads(port, domain)
    result = run_cli("deploy", "live", cwd=app.path)
    hits = fresh.stop() + sticky.stop()
    assert result.returncode != 0 and "aborted" in result.stderr, result.stdout + result.stderr
    bad = rollout(app)
    assert bad["state"] == "aborted" and len(bad["analysis"]) == 1 and bad["analysis"][0]["weight"] == 10
    assert "5xx ratio" in bad["reason"]
    answered_by_bad = [h for h in hits if h.body.startswith(bad["release"])]
    failed = [h for h in hits if h.status != 200]
    assert failed and all(h.body.startswith(bad["release"]) for h in failed)  # only the canary ever failed
    assert all(h.status is not None for h in hits)
    print(f"\n5% 500s: the bad canary answered {len(answered_by_bad)} of {len(hits)} requests "
          f"({len(failed)} failed) before its abort")
    assert {c.labels["dockyard.release"] for c in
            docker_client.containers.list(filters={"label": f"dockyard.app={app.name}"})} == {canary}
    assert any(r["status"] == "aborted" and r["release_id"] == bad["release"] for r in releases(app))

    # a release 3x slower: aborted by the latency rule
    ok("config", "set", "live", "FAIL_PERCENT=0", f"DELAY_US={int(BASE_DELAY) * 3}", cwd=app.path)
    fresh, sticky = loads(port, domain)
    result = run_cli("deploy", "live", cwd=app.path)
    hits = fresh.stop() + sticky.stop()
    assert result.returncode != 0, result.stdout
    slow = rollout(app)
    assert slow["state"] == "aborted" and "p95" in slow["reason"] and "stable" in slow["reason"], slow
    assert all(h.status == 200 for h in hits)
