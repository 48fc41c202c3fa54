"""Threshold alarms on a real engine: a CPU-heavy endpoint under bounded load on 127.0.0.1 sets off the
scale-out alarm, whose step for a datapoint far past the threshold adds two replicas at once; after the
load the scale-in alarm removes one replica per step, no sooner than its cooldown. Every decision
replays to itself from its stored inputs, and no request fails while replicas come and go."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.scale.policy import Policy, decide, inputs_from_record
from dockyard.spec import load_spec
from dockyard.vocabulary import epoch
from tests.integration.bluegreen.load import Load, failures, non_2xx
from tests.integration.scale.helpers import ok, scale_app_running, serving_count, wait_for_count

pytestmark = pytest.mark.integration

ALARMS = ("{min: 1, max: 3, alarms: ["
          "{name: busy, metric: cpu, comparison: above, threshold: 60, period: 2s, evaluation_periods: 2,"
          " datapoints_to_alarm: 2, steps: [{upper: 30, change: 1}, {lower: 30, change: 2}], cooldown: 6s},"
          " {name: idle, metric: cpu, statistic: maximum, comparison: below, threshold: 10, period: 2s,"
          " evaluation_periods: 3, steps: [{change: -1}], cooldown: 5s}]}")


@pytest.fixture
def alarmed(tmp_path: Path, dockyard_env: Path, docker_client: docker.DockerClient,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    with scale_app_running(tmp_path, dockyard_env, docker_client, monkeypatch, scaling=ALARMS) as running:
        yield running


def test_alarms_scale_out_by_their_steps_and_back_in_after_cooldowns(alarmed) -> None:
    app, live, procs = alarmed
    ok("build")
    ok("config", "set", "production", "GREETING=v1")
    ok("deploy", "production")
    procs.autoscaler(procs.agent(app.name, app.path), app.path)
    light = Load(f"http://127.0.0.1:{live}/health", threads=1, pause=0.05, max_seconds=120).start()
    heavy = Load(f"http://127.0.0.1:{live}/cgi-bin/burn", threads=3, pause=0.0, max_requests=20_000,
                 max_seconds=60).start()
    seen: list[int] = []
    try:
        wait_for_count(app, 3, 40, seen)
    finally:
        hot = heavy.stop()
    try:
        wait_for_count(app, 1, 50, seen)
    finally:
        calm = light.stop()
    assert failures(hot + calm) == [] and non_2xx(hot + calm) == [], (failures(hot + calm) + non_2xx(hot + calm))[:5]

    policy = Policy.from_spec(load_spec(app.spec_file).environment("production").scaling["web"])
    decisions = list(reversed(json.loads(ok("autoscale", "events", "--json", "--holds", "--limit", "1000"))))
    for e in decisions:  # each decision is what the policy makes of its stored inputs
        again = decide(policy, inputs_from_record(e["inputs"]["inputs"]))
        assert (again.desired, again.reason) == (e["desired"], e["reason"])
    changes = [e for e in decisions if e["action"] != "hold"]
    print("\n" + "\n".join(f"{e['action']} {e['current']} -> {e['desired']}: {e['reason']}" for e in changes))
    outs = [e for e in changes if e["action"] == "scale-out"]
    ins = [e for e in changes if e["action"] == "scale-in"]
    assert outs and ins and changes == outs + ins, [(e["action"], e["current"], e["desired"]) for e in changes]
    for e in outs:  # a datapoint 30 or more past 60 % asks for two more; clamped at max 3
        busy = next(a for a in e["inputs"]["alarms"] if a["name"] == "busy")
        assert busy["state"] == "ALARM" and busy["change"] == (2 if busy["value"] >= 90 else 1), busy
        assert e["desired"] == min(3, e["current"] + busy["change"])
    assert [(e["current"], e["desired"]) for e in ins] == [(3, 2), (2, 1)]  # one replica per step
    assert epoch(ins[1]["created_at"]) - epoch(ins[0]["created_at"]) >= 4.999  # the cooldown (ms in the JSON)
    idle = next(a for a in ins[0]["inputs"]["alarms"] if a["name"] == "idle")
    assert idle["state"] == "ALARM" and idle["breaching"] == 3 and idle["value"] < 10, idle
    # every scaling the loop applied is in the audit log, as the autoscaler's (issue 12)
    audited = [r for r in json.loads(ok("audit", "--json", "--limit", "5000")) if r["actor"] == "autoscaler"]
    assert [r["detail"].split(":")[0] for r in reversed(audited)] == [
        f"{e['current']} -> {e['desired']}" for e in changes]
    assert all(r["action"] == "scale" and r["outcome"] == "ok" for r in audited)
    status = json.loads(ok("autoscale", "status", "--json"))[0]
    assert [(a["name"], a["comparison"], a["threshold"]) for a in status["alarms"]] == [
        ("busy", "above", 60.0), ("idle", "below", 10.0)]
    time.sleep(3 * policy.period)
    assert serving_count(app) == 1  # min holds
