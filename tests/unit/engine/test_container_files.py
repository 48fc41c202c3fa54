from __future__ import annotations

from pathlib import Path

import orjson

from dockyard.engine.container_files import config_mtime, parse_config, read_config
from dockyard.engine.host import containers_folder
from dockyard.logs.meta import read_meta

CONFIG_V2 = {"ID": "abc", "Name": "/shop_t_web_1", "RestartCount": 2,
             "State": {"Running": False, "Restarting": True, "Pid": 0, "ExitCode": 1},
             "Config": {"Image": "shop:abc1234", "Labels": {"dockyard.app": "shop", "dockyard.service": "web"}}}


def test_a_containers_folder_says_its_name_image_labels_and_state() -> None:
    facts = parse_config("abc", orjson.dumps(CONFIG_V2))
    assert (facts.id, facts.name, facts.image, facts.app, facts.service) == ("abc", "shop_t_web_1", "shop:abc1234",
                                                                              "shop", "web")
    assert (facts.running, facts.restarting, facts.restarts) == (False, True, 2)


def test_the_forwarder_counts_a_restarting_container_as_running(tmp_path: Path) -> None:
    (tmp_path / "config.v2.json").write_bytes(orjson.dumps(CONFIG_V2))
    meta = read_meta(tmp_path, "abc")
    assert meta is not None and meta.running and meta.labels["dockyard.app"] == "shop"
    assert config_mtime(tmp_path) is not None


def test_a_folder_without_its_file_or_half_written_has_no_facts(tmp_path: Path) -> None:
    assert read_config(tmp_path, "abc") is None and config_mtime(tmp_path) is None
    (tmp_path / "config.v2.json").write_bytes(b'{"ID": "ab')
    assert read_config(tmp_path, "abc") is None


def test_the_containers_folder_follows_the_engines_data_root() -> None:
    """A site that moved dockerd's data root (--data-root) keeps its logs there: the agent reads them
    where the engine says, not under /var/lib/docker."""
    assert containers_folder({"DockerRootDir": "/srv/docker/"}) == "/srv/docker/containers"
    assert containers_folder({"DockerRootDir": "/var/lib/docker"}) == "/var/lib/docker/containers"
    assert containers_folder({}) == "/var/lib/docker/containers"
