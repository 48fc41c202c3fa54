from __future__ import annotations

from dockyard.engine.containers import NON_ROOT_USER, ReplicaSpec, choose_user, create_kwargs


def spec(**over) -> ReplicaSpec:
    base = dict(app="shop", env="testing", service="web", replica=2, image="127.0.0.1:5000/shop@sha256:ab",
                release_id="ab-cd", config_hash="hash", config_revision=7, commit="c0ffee",
                command=["httpd", "-f"], port=8080, cpus=0.5, memory=64 * 2**20, user="65534:65534",
                environment={"B": "2", "A": "1"})
    base.update(over)
    return ReplicaSpec(**base)


def test_create_kwargs_exact():
    assert create_kwargs(spec(), "shop_testing_web_2") == {
        "image": "127.0.0.1:5000/shop@sha256:ab",
        "name": "shop_testing_web_2",
        "labels": {
            "dockyard.managed": "1", "dockyard.app": "shop", "dockyard.env": "testing",
            "dockyard.service": "web", "dockyard.replica": "2", "dockyard.release": "ab-cd",
            "dockyard.config-hash": "hash", "dockyard.config-revision": "7", "dockyard.commit": "c0ffee",
        },
        "environment": {"A": "1", "B": "2"},
        "user": "65534:65534",
        "security_opt": ["no-new-privileges:true"],
        "restart_policy": {"Name": "unless-stopped"},
        "log_config": {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}},
        "detach": True,
        "init": True,
        "stop_signal": "SIGTERM",
        "network": "dockyard_shop_testing",
        "pids_limit": 1024,
        "cap_drop": ["ALL"],
        "command": ["httpd", "-f"],
        "ports": {"8080/tcp": ("127.0.0.1", None)},
        "nano_cpus": 500_000_000,
        "mem_limit": 64 * 2**20,
    }


def test_secrets_dir_is_a_read_only_bind_and_root_gets_no_capability():
    kwargs = create_kwargs(spec(user="root", secrets_dir="/run/dockyard/secrets/abc", port=None, cpus=None,
                                memory=None, command=None, commit=None), "n")
    assert kwargs["volumes"] == {"/run/dockyard/secrets/abc": {"bind": "/run/secrets", "mode": "ro"}}
    assert kwargs["labels"]["dockyard.secrets-dir"] == "/run/dockyard/secrets/abc"
    assert kwargs["cap_drop"] == ["ALL"] and "cap_add" not in kwargs  # root too (issue 28): none it did not list
    assert "ports" not in kwargs and "command" not in kwargs
    listed = create_kwargs(spec(user="root", capabilities=("NET_BIND_SERVICE",)), "n")
    assert (listed["cap_drop"], listed["cap_add"]) == (["ALL"], ["NET_BIND_SERVICE"])
    assert "dockyard.commit" not in kwargs["labels"]
    assert kwargs["mem_limit"] == 2**30 and kwargs["pids_limit"] == 1024  # limits even when none is set


def test_choose_user():
    assert choose_user(None, "") == NON_ROOT_USER
    assert choose_user(None, "root") == NON_ROOT_USER
    assert choose_user(None, "0:0") == NON_ROOT_USER
    assert choose_user(None, "app") == "app"
    assert choose_user("root", "app") == "root"


def test_colour_label_and_name_only_for_blue_green():
    from dockyard.engine.labels import container_name

    assert create_kwargs(spec(color="green"), "n")["labels"]["dockyard.color"] == "green"
    assert "dockyard.color" not in create_kwargs(spec(), "n")["labels"]
    assert container_name("shop", "production", "web", 2, "green") == "shop_production_web_green_2"
    assert container_name("shop", "testing", "web", 2) == "shop_testing_web_2"


def test_loopback_port_is_the_one_parser_of_published_ports():
    from dockyard.engine.labels import loopback_port

    attrs = {"NetworkSettings": {"Ports": {"9090/tcp": None, "8080/tcp": [
        {"HostIp": "10.0.0.5", "HostPort": "1111"}, {"HostIp": "127.0.0.1", "HostPort": "32768"}]}}}
    assert loopback_port(attrs) == 32768
    assert loopback_port(attrs, 8080) == 32768
    assert loopback_port(attrs, 9090) is None
    assert loopback_port({"NetworkSettings": {"Ports": None}}) is None and loopback_port({}) is None


def test_volumes_mounted_by_their_engine_names_beside_the_secrets() -> None:
    kwargs = create_kwargs(spec(volumes=(("data", "/var/lib/shop", False), ("assets", "/srv/assets", True)),
                                secrets_dir="/run/dockyard/s1", file_mounts=(("/run/dockyard/s1/f", "/etc/app.conf"),)),
                           "shop_testing_web_2")
    assert kwargs["volumes"] == {
        "dockyard_shop_testing_web_data": {"bind": "/var/lib/shop", "mode": "rw"},
        "dockyard_shop_testing_web_assets": {"bind": "/srv/assets", "mode": "ro"},
        "/run/dockyard/s1": {"bind": "/run/secrets", "mode": "ro"},
        "/run/dockyard/s1/f": {"bind": "/etc/app.conf", "mode": "ro"},
    }
    assert "volumes" not in create_kwargs(spec(), "shop_testing_web_2")
