"""Volumes in dockyard.yml (issue 16): their shape, and the rule that a volume written by one
container at a time never gets two (replicas, both blue-green colours, scaling out), by file:line."""

from __future__ import annotations

import pytest

from dockyard.errors import SpecError
from dockyard.spec import parse_spec

SPEC = """\
app: shop
services:
  web:
    port: 8080
    replicas: 1
    volumes:
      - {name: data, path: /var/lib/shop}
      - {name: assets, path: /srv/assets, read_only: true}
environments:
  dev: {}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "dockyard.yml")
    return caught.value.problems


def test_volumes_parse_and_which_are_written_by_one_container() -> None:
    web = parse_spec(SPEC).service("web")
    assert [(v.name, v.path, v.read_only, v.shared) for v in web.volumes] == [
        ("data", "/var/lib/shop", False, False), ("assets", "/srv/assets", True, False)]
    assert [v.name for v in web.writers()] == ["data"]
    assert "volumes" not in web.model_dump()  # the config-hash of services without volumes stays as it was


def test_a_path_that_is_not_absolute_and_a_bad_name() -> None:
    text = SPEC.replace("path: /var/lib/shop", "path: var/lib/shop").replace("name: assets", "name: Assets")
    assert problems(text) == [
        "dockyard.yml:7: services.web.volumes[0].path: must be an absolute path inside the container, "
        "got 'var/lib/shop'",
        "dockyard.yml:8: services.web.volumes[1].name: invalid volume name 'Assets': use lowercase letters, "
        "digits and '-', starting with a letter, at most 31 characters",
    ]


def test_two_volumes_on_one_path() -> None:
    text = SPEC.replace("path: /srv/assets", "path: /var/lib/shop")
    assert problems(text) == ["dockyard.yml:6: services.web.volumes: two volumes with the path /var/lib/shop"]


def test_a_volume_written_by_one_container_never_gets_two() -> None:
    text = SPEC.replace("replicas: 1", "replicas: 3") + (
        "  prod:\n    strategy: blue-green\n    router: {live: 8000, preview: 8001}\n"
        "  big:\n    replicas: {web: 2}\n"
        "  auto:\n    scaling: {web: {min: 1, max: 4, cpu_target: 60}}\n")
    fix = "(set shared: true on the volume if the app allows several writers, or run one replica)"
    volume = f"volume data of web is written by one container at a time {fix}"
    assert problems(text) == [
        f"dockyard.yml:5: services.web.replicas: 3 replicas: {volume}",
        f"dockyard.yml:12: environments.prod.strategy: blue-green runs two colours at once: {volume}",
        f"dockyard.yml:15: environments.big.replicas.web: 2 replicas: {volume}",
        f"dockyard.yml:17: environments.auto.scaling.web.max: scaled out to 4 replicas: {volume}",
    ]
    shared = text.replace("{name: data, path: /var/lib/shop}", "{name: data, path: /var/lib/shop, shared: true}")
    assert parse_spec(shared).service("web").writers() == []
