"""Autoscaling end to end: a CPU-heavy endpoint behind the blue-green balancer under a bounded load
on 127.0.0.1 scales out to what the policy predicts (and no further than max), serves every request
while replicas join and leave, scales back in to min once the load stops and the window passes, and
a manual `dockyard scale` holds (within max) until cleared, also across a deploy."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.scale.policy import Policy, decide, inputs_from_record
from dockyard.spec import load_spec
from tests.integration.bluegreen.load import Load, failures, non_2xx
from tests.integration.scale.helpers import ok, scale_app_running, serving_count, wait_for_count

pytestmark = pytest.mark.e2e


@pytest.fixture
def scaled(tmp_path: Path, dockyard_env: Path, docker_client: docker.DockerClient,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    with scale_app_running(tmp_path, dockyard_env, docker_client, monkeypatch) as running:
        yield running


def events(holds: bool = True) -> list[dict]:
    return json.loads(ok("autoscale", "events", "--json", "--limit", "1000", *(["--holds"] if holds else [])))


def test_scale_out_under_load_and_back_in_with_min_max_and_a_manual_override(scaled) -> None:
    app, live, procs = scaled
    ok("build")
    ok("config", "set", "production", "GREETING=v1")
    ok("deploy", "production")
    assert serving_count(app) == 1
    procs.autoscaler(procs.agent(app.name, app.path), app.path)
    light = Load(f"http://127.0.0.1:{live}/health", threads=1, pause=0.05, max_seconds=150).start()
    heavy = Load(f"http://127.0.0.1:{live}/cgi-bin/burn", threads=3, pause=0.0, max_requests=20_000,
                 max_seconds=70).start()
    seen: list[int] = []
    try:
        out = wait_for_count(app, 3, 50, seen)
        time.sleep(6)  # the load goes on: max holds, and nothing flaps
        steady = serving_count(app)
        seen.append(steady)
    finally:
        hot = heavy.stop()
    try:
        back = wait_for_count(app, 1, 45, seen)
        time.sleep(5)  # min holds with no load
        seen.append(serving_count(app))
    finally:
        calm = light.stop()
    print(f"\nscaled out to 3 in {out:.1f}s, back to 1 in {back:.1f}s after the load; {len(hot)} heavy and "
          f"{len(calm)} light requests; hosts that answered: {len({h.body.split()[-1] for h in hot})}")
    assert steady == 3 and seen[-1] == 1, (seen, procs.log("autoscaler"))
    assert failures(hot) == [] and non_2xx(hot) == [], (failures(hot) + non_2xx(hot))[:5]
    assert failures(calm) == [] and non_2xx(calm) == [], (failures(calm) + non_2xx(calm))[:5]
    assert len({h.body.split()[-1] for h in hot}) == 3  # all three replicas answered through the balancer

    # Every decision replays to itself: the counts are the ones the policy predicts from its inputs.
    policy = Policy.from_spec(load_spec(app.spec_file).environment("production").scaling["web"])
    decisions = list(reversed(events()))
    for e in decisions:
        again = decide(policy, inputs_from_record(e["inputs"]["inputs"]))
        assert (again.desired, again.recommendation, again.reason) == (e["desired"], e["recommendation"],
                                                                      e["reason"])
    changes = [(e["action"], e["current"], e["desired"]) for e in decisions if e["action"] != "hold"]
    # Once the load stops, scale-in follows the window's highest recommendation down: 3 -> 1, in one
    # step or through 2 as the loaded samples age out, and nothing scales out again.
    first_in = next(i for i, c in enumerate(changes) if c[0] == "scale-in")
    ins = changes[first_in:]
    assert all(c[0] == "scale-in" for c in ins), f"flapped: {changes}"
    assert ins[0][1] == 3 and ins[-1][2] == 1, changes
    assert all(a[2] == b[1] for a, b in zip(ins, ins[1:], strict=False)), changes
    assert all(e["outcome"] and not e["outcome"].startswith("failed") for e in decisions if e["action"] != "hold")
    assert any(e["recommendation"] > 3 and e["desired"] == 3 for e in decisions), "max never had to hold"
    assert min(e["desired"] for e in decisions if e["current"]) == 1  # min holds (clamping below: unit tests)
    assert decisions[-1]["action"] == "hold" and decisions[-1]["desired"] == 1  # idle stays at min

    # A manual override holds against the metrics (idle: the policy alone would say 1) ...
    held = json.loads(ok("scale", "production", "web", "2", "--json"))
    assert (held["desired"], serving_count(app)) == (2, 2)
    time.sleep(3 * policy.period)
    assert serving_count(app) == 2
    # ... across a deploy (a new release starts with the held count, not dockyard.yml's 1) ...
    ok("config", "set", "production", "GREETING=v2")
    ok("deploy", "production")
    assert serving_count(app) == 2
    # ... and within max.
    assert json.loads(ok("scale", "production", "web", "7", "--json"))["desired"] == 3
    assert serving_count(app) == 3
    status = json.loads(ok("autoscale", "status", "--json"))[0]
    assert (status["override"], status["last"]["desired"], status["min"], status["max"]) == (7, 3, 1, 3)
    ok("scale", "production", "web", "--clear")
    wait_for_count(app, 1, policy.down_window + 20)
