from __future__ import annotations

from dockyard.engine.swarm_spec import FileRef, SwarmService, create_kwargs, object_name, service_body

NS = 1_000_000_000


def svc(**over) -> SwarmService:
    base = dict(app="shop", env="prod", service="web", image="127.0.0.1:5000/shop@sha256:ab", release_id="ab-cd",
                config_hash="hash", config_revision=7, commit="c0ffee", replicas=3, command=["httpd", "-f"],
                port=8080, cpus=0.5, memory=64 * 2**20, user="65534:65534", environment={"B": "2", "A": "1"},
                constraints=("node.role==worker",), preferences=("node.labels.zone",), max_per_node=2,
                network="dyt-pub", monitor=2.0,
                configs=(FileRef("cfg-1", "cid1", "/etc/app/app.conf"),),
                secrets=(FileRef("sec-1", "sid1", "DB_PASSWORD"),))
    base.update(over)
    return SwarmService(**base)


def test_service_body_exact():
    labels = {"dockyard.managed": "1", "dockyard.app": "shop", "dockyard.env": "prod", "dockyard.service": "web",
              "dockyard.release": "ab-cd", "dockyard.config-hash": "hash", "dockyard.config-revision": "7",
              "dockyard.commit": "c0ffee"}
    assert service_body(svc()) == {
        "Name": "shop_prod_web",
        "Labels": labels,
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": "127.0.0.1:5000/shop@sha256:ab",
                "Labels": labels,
                "Env": ["A=1", "B=2"],
                "User": "65534:65534",
                "Init": True,
                "StopSignal": "SIGTERM",
                "StopGracePeriod": 10 * NS,
                "Args": ["httpd", "-f"],
                "CapabilityDrop": ["ALL"], "Privileges": {"NoNewPrivileges": True},
                "Configs": [{"ConfigID": "cid1", "ConfigName": "cfg-1",
                             "File": {"Name": "/etc/app/app.conf", "UID": "65534", "GID": "65534", "Mode": 0o444}}],
                "Secrets": [{"SecretID": "sid1", "SecretName": "sec-1",
                             "File": {"Name": "DB_PASSWORD", "UID": "65534", "GID": "65534", "Mode": 0o400}}],
            },
            "RestartPolicy": {"Condition": "any", "Delay": 2 * NS, "MaxAttempts": 0},
            "LogDriver": {"Name": "json-file", "Options": {"max-size": "10m", "max-file": "3"}},
            "Resources": {"Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 64 * 2**20},
                          "Reservations": {"NanoCPUs": 500_000_000, "MemoryBytes": 64 * 2**20}},
            "Placement": {"Constraints": ["node.role==worker"],
                          "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}], "MaxReplicas": 2},
            "Networks": [{"Target": "dyt-pub"}],
        },
        "Mode": {"Replicated": {"Replicas": 3}},
        "UpdateConfig": {"Parallelism": 1, "Delay": 0, "FailureAction": "rollback", "Monitor": 2 * NS,
                         "MaxFailureRatio": 0, "Order": "start-first"},
        "RollbackConfig": {"Parallelism": 0, "Delay": 0, "FailureAction": "pause", "Monitor": 2 * NS,
                           "MaxFailureRatio": 0, "Order": "start-first"},
        "EndpointSpec": {"Ports": [{"Protocol": "tcp", "TargetPort": 8080, "PublishMode": "host"}]},
    }


def test_minimal_root_service_gets_no_capability_and_publishes_nothing():
    body = service_body(svc(user="root", port=None, cpus=None, memory=None, command=None, commit=None,
                            constraints=(), preferences=(), max_per_node=None, network=None, configs=(), secrets=(),
                            parallelism=0))
    container = body["TaskTemplate"]["ContainerSpec"]
    assert container["CapabilityDrop"] == ["ALL"] and "CapabilityAdd" not in container  # root too (issue 28)
    assert "Args" not in container and "Configs" not in container
    assert "dockyard.commit" not in body["Labels"]
    assert set(body["TaskTemplate"]) == {"ContainerSpec", "RestartPolicy", "LogDriver"}
    assert body["EndpointSpec"] == {} and body["UpdateConfig"]["Parallelism"] == 0


def test_named_user_gets_world_readable_secret_files():
    secret = service_body(svc(user="app"))["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["File"]
    assert secret == {"Name": "DB_PASSWORD", "UID": "0", "GID": "0", "Mode": 0o444}


def test_object_names_are_content_addressed_and_short():
    a = object_name("a" * 41, "e" * 21, "/etc/x", b"1")
    assert len(a) <= 64 and a == object_name("a" * 41, "e" * 21, "/etc/x", b"1")
    assert a != object_name("a" * 41, "e" * 21, "/etc/x", b"2")


def test_create_kwargs_passes_the_body_through():
    body = service_body(svc())
    assert create_kwargs(body) == {"task_template": body["TaskTemplate"], "name": "shop_prod_web",
                                   "labels": body["Labels"], "mode": body["Mode"],
                                   "update_config": body["UpdateConfig"], "rollback_config": body["RollbackConfig"],
                                   "endpoint_spec": body["EndpointSpec"]}


def test_a_colour_gets_its_own_service_name_label_and_env():
    body = service_body(svc(color="green"))
    assert body["Name"] == "shop_prod_web_green"
    container = body["TaskTemplate"]["ContainerSpec"]
    assert body["Labels"]["dockyard.color"] == "green" == container["Labels"]["dockyard.color"]
    assert container["Env"] == ["A=1", "B=2", "DOCKYARD_COLOR=green"]
    assert "dockyard.color" not in service_body(svc())["Labels"]


def test_a_health_command_is_the_tasks_health_check():
    from dockyard.engine.containers import CommandCheck

    body = service_body(svc(port=None, health_command=CommandCheck(("sh", "-c", "test -f /tmp/up"), 2.0, 1.0, 3,
                                                                   10.0)))
    assert body["TaskTemplate"]["ContainerSpec"]["HealthCheck"] == {
        "Test": ["CMD", "sh", "-c", "test -f /tmp/up"], "Interval": 2 * NS, "Timeout": NS, "Retries": 3,
        "StartPeriod": 10 * NS}
    assert "HealthCheck" not in service_body(svc())["TaskTemplate"]["ContainerSpec"]


def test_a_one_off_is_the_service_s_task_once_never_restarted_and_not_a_replica():
    from dockyard.engine.containers import CommandCheck
    from dockyard.engine.swarm_spec import one_off_body

    base = service_body(svc(health_command=CommandCheck(["true"], 1.0, 1.0, 3, 1.0)))
    body = one_off_body(svc(health_command=CommandCheck(["true"], 1.0, 1.0, 3, 1.0)), "shop_prod_release_ab-cd",
                        "release", ["./manage.py", "migrate"], {"DOCKYARD_HOOK": "x"})
    labels = {k: v for k, v in base["Labels"].items() if k != "dockyard.managed"} | {"dockyard.task": "release"}
    container = {k: v for k, v in base["TaskTemplate"]["ContainerSpec"].items() if k != "HealthCheck"}
    assert body == {
        "Name": "shop_prod_release_ab-cd",
        "Labels": labels,
        "TaskTemplate": {**base["TaskTemplate"], "RestartPolicy": {"Condition": "none"},
                         "ContainerSpec": {**container, "Labels": labels, "Args": ["./manage.py", "migrate"],
                                           "Env": ["A=1", "B=2", "DOCKYARD_HOOK=x"]}},
        "Mode": {"Replicated": {"Replicas": 1}},
        "UpdateConfig": base["UpdateConfig"],  # never used: it is never updated
        "RollbackConfig": base["RollbackConfig"],
        "EndpointSpec": {},
    }
    # its placement, files, secrets, network and resources are the service's
    for key in ("Placement", "Networks", "Resources", "LogDriver"):
        assert body["TaskTemplate"][key] == base["TaskTemplate"][key]
    assert body["TaskTemplate"]["ContainerSpec"]["Configs"] == base["TaskTemplate"]["ContainerSpec"]["Configs"]
