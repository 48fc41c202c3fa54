"""Scaling on the request rate through the balancer (nginx's own counter, no agent at all): a bounded
load on the live port, 127.0.0.1 only, scales a blue-green service out to what the rate asks for, and
back in to min when it stops; no request fails; the counter is not reachable through the live port."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.scale.policy import Policy, decide, inputs_from_record
from dockyard.spec import load_spec
from tests.integration.bluegreen.load import Load, failures, non_2xx
from tests.integration.scale.helpers import ok, scale_app_running, wait_for_count

pytestmark = pytest.mark.integration

SCALING = "{min: 1, max: 3, requests_target: 10, period: 2s, scale_down_window: 6s}"


@pytest.fixture
def by_requests(tmp_path: Path, dockyard_env: Path, docker_client: docker.DockerClient,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    with scale_app_running(tmp_path, dockyard_env, docker_client, monkeypatch, scaling=SCALING) as running:
        yield running


def test_scale_on_requests_through_the_balancer(by_requests) -> None:
    app, live, procs = by_requests
    ok("build")
    ok("config", "set", "production", "GREETING=v1")
    ok("deploy", "production")
    page = httpx.get(f"http://127.0.0.1:{live}/.dockyard/nginx-status", timeout=5)
    assert "server accepts handled requests" not in page.text  # the live listener passes it to the app
    procs.autoscaler("http://127.0.0.1:9", app.path)  # no agent: the balancer's counter is enough
    load = Load(f"http://127.0.0.1:{live}/health", threads=2, pause=0.02, max_seconds=60).start()
    seen: list[int] = []
    try:
        wait_for_count(app, 3, 30, seen)
    finally:
        hits = load.stop()
    wait_for_count(app, 1, 30, seen)
    assert failures(hits) == [] and non_2xx(hits) == [], (failures(hits) + non_2xx(hits))[:5]

    policy = Policy.from_spec(load_spec(app.spec_file).environment("production").scaling["web"])
    decisions = list(reversed(json.loads(ok("autoscale", "events", "--json", "--holds", "--limit", "1000"))))
    for e in decisions:
        again = decide(policy, inputs_from_record(e["inputs"]["inputs"]))
        assert (again.desired, again.reason) == (e["desired"], e["reason"])
    outs = [e for e in decisions if e["action"] == "scale-out"]
    for e in outs:  # ceil(rate / 10 per replica), clamped to 3
        rate = e["inputs"]["metrics"]["requests"] * e["current"]
        assert e["desired"] == min(3, math.ceil(rate / 10 - 1e-9)), e["reason"]
    assert max(e["inputs"]["metrics"]["requests"] * e["current"] for e in outs) > 20
    ins = [e for e in decisions if e["action"] == "scale-in"]
    assert ins and ins[-1]["desired"] == 1 and ins[0]["created_at"] > outs[-1]["created_at"]
    rates = [round(e["inputs"]["metrics"]["requests"] * e["current"], 1) for e in outs]
    print(f"\nrequests/s at each scale-out: {rates}; {len(hits)} requests, counts seen {sorted(set(seen))}")
