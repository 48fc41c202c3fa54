"""Pure parts around the policy: samples -> readings, deploy counts, which slots grow and shrink."""

from __future__ import annotations

import textwrap

from dockyard.engine.facts import replica_facts
from dockyard.scale.apply import free_slots, victims
from dockyard.scale.counts import plan_counts
from dockyard.scale.facts import Serving, parse_time, readings, to_serving
from dockyard.scale.policy import Reading
from dockyard.spec import parse_spec

R1 = Serving("id1", "a-p-web-blue-1", 1, 10.0, 0.25, "h", "r")
R2 = Serving("id2", "a-p-web-blue-2", 2, 10.0, None, "h", "r")


def test_readings_are_percent_of_the_limit() -> None:
    samples = [
        {"id": "id1", "name": "a-p-web-blue-1", "cpu_percent": 20.0, "memory_bytes": 8, "memory_limit_bytes": 32,
         "at": 5.0, "up": True},
        {"id": "x", "name": "a-p-web-blue-2", "cpu_percent": 30.0, "memory_bytes": 8, "memory_limit_bytes": None,
         "at": 6.0, "up": True},
        {"id": "id9", "name": "a-p-web-green-1", "cpu_percent": 99.0, "at": 6.0},  # not serving: ignored
        {"id": "id1", "name": "a-p-web-blue-1", "cpu_percent": 0.0, "at": 7.0, "up": False},  # down: ignored
    ]
    assert readings(samples, [R1, R2], ["cpu", "memory"], default_cpus=0.5) == (
        Reading("a-p-web-blue-1", "cpu", 80.0, 5.0), Reading("a-p-web-blue-1", "memory", 25.0, 5.0),
        Reading("a-p-web-blue-2", "cpu", 60.0, 6.0), Reading("a-p-web-blue-2", "memory", None, 6.0))


def test_serving_from_inspect_data() -> None:
    attrs = {"Id": "abc", "Name": "/a-p-web-blue-2",
             "Config": {"Labels": {"dockyard.replica": "2", "dockyard.config-hash": "h", "dockyard.release": "r",
                                   "dockyard.color": "blue"}},
             "HostConfig": {"NanoCpus": 250000000}, "State": {"StartedAt": "2026-11-25T10:00:01.5000001Z"}}
    assert to_serving(replica_facts(attrs)) == Serving("abc", "a-p-web-blue-2", 2,
                                                       parse_time("2026-11-25T10:00:01Z") + 0.5, 0.25, "h", "r", "blue")
    assert parse_time("0001-01-01T00:00:00Z") == 0.0


def spec():
    return parse_spec(textwrap.dedent("""\
        app: a
        services:
          web: {port: 8080, replicas: 2}
          worker: {replicas: 1}
        environments:
          production:
            scaling: {web: {min: 2, max: 5, cpu_target: 50}}
        """))


def test_deploy_keeps_the_scaled_count_within_min_and_max() -> None:
    s = spec()
    assert plan_counts(s, "production", {"web": 4}, {}) == {"web": 4}
    assert plan_counts(s, "production", {"web": 9}, {}) == {"web": 5}
    assert plan_counts(s, "production", {"web": 1}, {}) == {"web": 2}
    assert plan_counts(s, "production", {}, {}) == {}  # nothing runs: the spec's count
    assert plan_counts(s, "production", {"web": 4}, {"web": 3}) == {"web": 3}  # an override wins
    assert plan_counts(s, "production", {"web": 4}, {"web": 30, "worker": 3}) == {"web": 5, "worker": 3}


def test_grow_into_free_slots_and_shrink_the_highest() -> None:
    assert free_slots({1, 2}, 2) == [3, 4]
    assert free_slots({1, 3}, 2) == [2, 4]
    r3 = Serving("id3", "a-p-web-blue-3", 3, 10.0, 0.25, "h", "r")
    assert victims([R1, r3, R2], 2) == [r3, R2]
