"""The accessory translator (issue 16): one accessory -> the exact `containers.create` arguments,
and an inspect body -> the row `ps` shows."""

from __future__ import annotations

from dockyard.engine.accessories import AccessoryRun, accessory_create_kwargs, accessory_state
from dockyard.engine.containers import CommandCheck

RUN = AccessoryRun(app="shop", env="prod", name="db", image="shop-db:abc1234", config_hash="f00d", user="65534:65534",
                   command=("redis-server", "--dir", "/data"), port=6379, environment=(("GREETING", "hi"),),
                   volumes=(("data", "/data", False),), health=CommandCheck(("redis-cli", "ping"), 1.0, 2.0, 3, 10.0),
                   memory=256 * 1024 * 1024)


def test_an_accessory_is_labelled_unmanaged_and_reached_by_its_name_only() -> None:
    assert accessory_create_kwargs(RUN) == {
        "image": "shop-db:abc1234",
        "name": "shop_prod_db",
        # no dockyard.managed: no deploy, rollback, switch or scale of the app sees it
        "labels": {"dockyard.app": "shop", "dockyard.env": "prod", "dockyard.service": "db",
                   "dockyard.accessory": "db", "dockyard.config-hash": "f00d"},
        "environment": {"GREETING": "hi"},
        "user": "65534:65534",
        "security_opt": ["no-new-privileges:true"],
        "restart_policy": {"Name": "unless-stopped"},
        "log_config": {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}},
        "detach": True,
        "init": True,
        "stop_signal": "SIGTERM",
        "network": "dockyard_shop_prod",
        "networking_config": {"dockyard_shop_prod": {"Aliases": ["db"]}},
        "pids_limit": 1024,
        "mem_limit": 256 * 1024 * 1024,
        "cap_drop": ["ALL"],
        "command": ["redis-server", "--dir", "/data"],
        "healthcheck": {"test": ["CMD", "redis-cli", "ping"], "interval": 1_000_000_000, "timeout": 2_000_000_000,
                        "retries": 3, "start_period": 10_000_000_000},
        "volumes": {"dockyard_shop_prod_db_data": {"bind": "/data", "mode": "rw"}},
    }


def test_published_only_when_asked_and_secrets_mounted_read_only() -> None:
    from dataclasses import replace

    kwargs = accessory_create_kwargs(replace(RUN, publish=16379, secrets_dir="/run/dockyard/secrets/ab12"))
    assert kwargs["ports"] == {"6379/tcp": ("127.0.0.1", 16379)}
    assert kwargs["volumes"]["/run/dockyard/secrets/ab12"] == {"bind": "/run/secrets", "mode": "ro"}
    assert kwargs["labels"]["dockyard.secrets-dir"] == "/run/dockyard/secrets/ab12"
    assert "ports" not in accessory_create_kwargs(RUN)


def test_the_row_of_an_inspect_body() -> None:
    attrs = {"Id": "c0ffee", "Name": "/shop_prod_db", "RestartCount": 2,
             "Config": {"Image": "shop-db:abc1234", "Labels": {"dockyard.app": "shop", "dockyard.env": "prod",
                                                              "dockyard.accessory": "db",
                                                              "dockyard.config-hash": "f00d"}},
             "State": {"Status": "running", "StartedAt": "2026-12-03T10:00:00Z", "Health": {"Status": "starting"}}}
    row = accessory_state(attrs)
    assert (row.name, row.container, row.state, row.health, row.restarts, row.config_hash) == (
        "db", "shop_prod_db", "running", "starting", 2, "f00d")
    assert accessory_state({**attrs, "State": {"Status": "exited"}}).health == "none"
