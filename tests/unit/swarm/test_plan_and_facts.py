from __future__ import annotations

from dockyard.engine.rows import task_rows
from dockyard.engine.swarm_facts import (
    ServiceFact,
    TaskFact,
    parse_node,
    parse_service,
    parse_task,
    task_url,
    unused_objects,
)
from dockyard.swarm.nodes import pool_view
from dockyard.swarm.plan import SwarmKind, Verdict, Want, judge, plan_services

SERVICE = {
    "ID": "s1", "Version": {"Index": 42},
    "Spec": {"Name": "shop-prod-web",
             "Labels": {"dockyard.app": "shop", "dockyard.env": "prod", "dockyard.service": "web",
                        "dockyard.release": "r2", "dockyard.config-hash": "h2", "dockyard.commit": "c0"},
             "Mode": {"Replicated": {"Replicas": 2}},
             "TaskTemplate": {"ContainerSpec": {"Configs": [{"ConfigName": "cfg-new"}],
                                                "Secrets": [{"SecretName": "sec-new"}]}},
             "EndpointSpec": {"Ports": [{"Protocol": "tcp", "TargetPort": 8080, "PublishMode": "host"}]}},
    "PreviousSpec": {"TaskTemplate": {"ContainerSpec": {"Configs": [{"ConfigName": "cfg-old"}]}}},
    "UpdateStatus": {"State": "completed", "Message": "update completed"},
}


def task(tid, slot, node, state="running", desired="running", h="h2", err="", port=33001, created="2"):
    return {"ID": tid, "ServiceID": "s1", "Slot": slot, "NodeID": node, "DesiredState": desired, "CreatedAt": created,
            "Spec": {"ContainerSpec": {"Labels": {"dockyard.config-hash": h, "dockyard.release": "r-" + h}}},
            "Status": {"State": state, "Err": err, "ContainerStatus": {"ContainerID": "c-" + tid},
                       "PortStatus": {"Ports": [{"Protocol": "tcp", "TargetPort": 8080, "PublishedPort": port,
                                                 "PublishMode": "host"}]}}}


NODES = [
    {"ID": "n1", "Description": {"Hostname": "vm", "Resources": {"NanoCPUs": 2_000_000_000, "MemoryBytes": 1 << 30}},
     "Spec": {"Role": "manager", "Availability": "active", "Labels": {"dockyard.publish-addr": "127.0.0.1"}},
     "Status": {"State": "ready", "Addr": "10.219.0.1"}, "ManagerStatus": {"Leader": True}},
    {"ID": "n2", "Description": {"Hostname": "vm2", "Resources": {"NanoCPUs": 1_000_000_000, "MemoryBytes": 1 << 29}},
     "Spec": {"Role": "worker", "Availability": "drain"}, "Status": {"State": "down", "Addr": "10.219.0.2"}},
]


def test_parse_service():
    fact = parse_service(SERVICE)
    assert fact == ServiceFact(id="s1", name="shop-prod-web", version=42, app="shop", env="prod", service="web",
                               release="r2", config_hash="h2", replicas=2, update_state="completed",
                               update_message="update completed", port=8080, commit="c0",
                               refs=frozenset({"cfg-new", "sec-new", "cfg-old"}))


def test_parse_task_and_node_and_url():
    t = parse_task(task("t1", 1, "n2"))
    assert t == TaskFact(id="t1", service_id="s1", slot=1, node_id="n2", state="running", desired="running",
                         config_hash="h2", release="r-h2", error="", container_id="c-t1", published={8080: 33001},
                         created="2")
    nodes = {n["ID"]: parse_node(n) for n in NODES}
    assert nodes["n1"].publish_addr == "127.0.0.1" and nodes["n2"].publish_addr == "10.219.0.2"
    assert nodes["n1"].leader and not nodes["n2"].leader
    assert task_url(t, 8080, nodes) == "http://10.219.0.2:33001"
    assert task_url(t, None, nodes) is None


def test_unused_objects_keeps_what_the_previous_spec_needs_for_rollback():
    objects = {"cfg-new": "1", "cfg-old": "2", "cfg-older": "3", "sec-new": "4"}
    assert unused_objects(objects, [parse_service(SERVICE)]) == ["3"]
    assert unused_objects(objects, []) == ["1", "2", "3", "4"]


def test_plan_services():
    current = parse_service(SERVICE)
    wants = [Want("web", "shop-prod-web", 2, "h3", "r3"), Want("api", "shop-prod-api", 1, "a1", "r3")]
    observed = [current, ServiceFact(**{**current.__dict__, "id": "s9", "service": "old", "name": "shop-prod-old"})]
    actions = plan_services(wants, observed)
    assert [(a.kind, a.service, a.replicas, a.reason) for a in actions] == [
        (SwarmKind.CREATE, "api", 1, "new service (r3)"),
        (SwarmKind.UPDATE, "web", 2, "new release r3 (was r2)"),
        (SwarmKind.REMOVE, "old", 0, "service no longer in dockyard.yml"),
    ]
    assert plan_services([Want("web", "n", 5, "h2", "r2")], [current])[0].reason == "scale 2 -> 5"
    keep = plan_services([Want("web", "n", 2, "h2", "r2")], [current])[0]
    assert keep.kind is SwarmKind.KEEP and keep.container is None and keep.replica == 2
    drift = plan_services([Want("web", "n", 2, "h9", "r2")], [current])[0]
    assert drift.reason == "configuration drift (config-hash differs)"


def test_judge():
    service = parse_service(SERVICE)
    ready = [parse_task(task("a", 1, "n1")), parse_task(task("b", 2, "n2"))]
    assert judge(service, ready, "h2", 2).state == "ready"
    old_still_up = ready + [parse_task(task("o", 2, "n1", h="h1"))]
    assert judge(service, old_still_up, "h2", 2).reason == "2/2 new tasks running, 1 old still up"
    updating = parse_service({**SERVICE, "UpdateStatus": {"State": "updating"}})
    assert judge(updating, ready, "h2", 2).state == "waiting"
    crashed = [parse_task(task(f"f{i}", 1, "n1", state="failed", desired="shutdown", err="exit 3", created=str(i)))
               for i in range(3)]
    verdict = judge(parse_service({**SERVICE, "UpdateStatus": None}), crashed, "h2", 2)
    assert verdict.state == "failed" and verdict.culprit and verdict.culprit.id == "f2"
    rolled = parse_service({**SERVICE, "UpdateStatus": {"State": "rollback_completed", "Message": "rolled"}})
    assert judge(rolled, crashed[:1], "h2", 2) == Verdict("failed", "Swarm rolled the update back: rolled",
                                                         culprit=crashed[0])


def test_task_rows_and_pool_view():
    service = parse_service(SERVICE)
    tasks = [parse_task(task("b", 2, "n2")), parse_task(task("a", 1, "n1", port=33000)),
             parse_task(task("x", 1, "n1", state="shutdown", desired="shutdown"))]
    nodes = {n["ID"]: parse_node(n) for n in NODES}
    rows = task_rows([service], tasks, nodes)
    assert [(r.name, r.replica, r.state, r.url, r.id) for r in rows] == [
        ("shop-prod-web.1.a", 1, "running", "http://127.0.0.1:33000", "c-a"),
        ("shop-prod-web.2.b", 2, "running", "http://10.219.0.2:33001", "c-b"),
    ]
    view = pool_view(list(nodes.values())[::-1], tasks, {"s1": "shop-prod-web"})
    assert [(v["id"], v["role"], v["availability"], v["state"], v["nano_cpus"], v["tasks"]) for v in view] == [
        ("n1", "manager", "active", "ready", 2_000_000_000,
         [{"service": "shop-prod-web", "slot": 1, "state": "running", "task": "a"}]),
        ("n2", "worker", "drain", "down", 1_000_000_000,
         [{"service": "shop-prod-web", "slot": 2, "state": "running", "task": "b"}]),
    ]


def test_a_colour_service_s_tasks_are_the_balancer_s_replicas_on_their_nodes():
    from dataclasses import replace

    from dockyard.router.colors import side
    from dockyard.router.swarm_fleet import task_replicas

    green = replace(parse_service(SERVICE), color="green", name="shop-prod-web-green")
    plain = replace(parse_service(SERVICE), id="s-plain")  # a rolling service has no colour: not routed
    tasks = [parse_task(task("b", 2, "n2")), parse_task(task("a", 1, "n1", port=33000)),
             parse_task(task("x", 3, "n1", state="shutdown", desired="shutdown")),
             parse_task(task("p", 4, "n1", state="preparing"))]
    nodes = {n["ID"]: parse_node(n) for n in NODES}
    replicas = task_replicas([green, plain], tasks, nodes)
    assert [(r.name, r.color, r.release, r.running, r.address) for r in replicas] == [
        ("shop-prod-web-green.1", "green", "r-h2", True, "127.0.0.1:33000"),
        ("shop-prod-web-green.2", "green", "r-h2", True, "10.219.0.2:33001"),
        ("shop-prod-web-green.4", "green", "r-h2", False, "127.0.0.1:33001"),
    ]
    assert side(replicas, "green", "web").servers == ("10.219.0.2:33001", "127.0.0.1:33000")  # running only
    assert task_replicas([plain], tasks, nodes) == []
    assert parse_service({**SERVICE, "Spec": {**SERVICE["Spec"], "Labels": {
        **SERVICE["Spec"]["Labels"], "dockyard.color": "blue"}}}).color == "blue"


def test_a_parked_worker_service_counts_as_its_stopped_replicas_so_the_colour_still_holds_the_release():
    from dataclasses import replace

    from dockyard.router.colors import color_facts
    from dockyard.router.swarm_fleet import task_replicas

    labels = {**SERVICE["Spec"]["Labels"], "dockyard.service": "worker", "dockyard.color": "blue",
              "dockyard.parked": "2"}
    spec = {**SERVICE["Spec"], "Labels": labels, "Mode": {"Replicated": {"Replicas": 0}}, "EndpointSpec": {}}
    worker = replace(parse_service({**SERVICE, "Spec": spec}), id="s-worker", name="shop-prod-worker-blue")
    assert (worker.parked, worker.replicas, worker.port) == (2, 0, None)
    web = replace(parse_service(SERVICE), color="blue", name="shop-prod-web-blue")
    nodes = {n["ID"]: parse_node(n) for n in NODES}
    replicas = task_replicas([web, worker], [parse_task(task("a", 1, "n1", port=33000))], nodes)
    assert [(r.name, r.running, r.worker, r.parked) for r in replicas] == [
        ("shop-prod-web-blue.1", True, False, False),
        ("shop-prod-worker-blue.1", False, True, True),
        ("shop-prod-worker-blue.2", False, True, True),
    ]
    facts = color_facts(replicas, "blue")
    assert (facts.containers, facts.running, facts.parked, facts.workers) == (3, 1, 2, 2)
    # scaled back (the label is gone): its tasks are the replicas, workers that run
    running = replace(worker, parked=0, replicas=2)
    tasks = [parse_task({**task(t, slot, "n1"), "ServiceID": "s-worker"}) for t, slot in (("w1", 1), ("w2", 2))]
    scaled_back = task_replicas([running], tasks, nodes)
    assert [(r.worker, r.running, r.parked) for r in scaled_back] == [(True, True, False)] * 2
