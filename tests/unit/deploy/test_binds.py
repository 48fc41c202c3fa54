"""Bind mounts only where the site allows them (issue 16): a commit's dockyard.yml cannot mount a
host folder its engine was not given, nor climb out of one with '..' or a symlink."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.deploy.binds import allowed, check_binds
from dockyard.errors import DeployError, SpecError
from dockyard.settings import EngineSettings
from dockyard.spec import parse_spec

SPEC = """\
app: shop
services:
  web:
    port: 8080
    binds:
      - {host: /srv/shop/uploads, path: /uploads}
      - {host: /srv/shop/static, path: /static, read_only: true}
accessories:
  db:
    image: redis:7
    binds: [{host: /etc, path: /host-etc}]
environments:
  prod: {}
"""


def test_prefixes_are_whole_folders() -> None:
    assert allowed("/srv/shop/uploads", ["/srv/shop"], resolve=False)
    assert allowed("/srv/shop", ["/srv/shop"], resolve=False)
    assert not allowed("/srv/shopping", ["/srv/shop"], resolve=False)
    assert not allowed("/etc", [], resolve=False)


def test_a_symlink_out_of_an_allowed_folder_is_followed_on_this_host(tmp_path: Path) -> None:
    (tmp_path / "allowed").mkdir()
    (tmp_path / "allowed" / "out").symlink_to("/etc")
    assert not allowed(str(tmp_path / "allowed" / "out"), [str(tmp_path / "allowed")], resolve=True)
    assert allowed(str(tmp_path / "allowed" / "sub"), [str(tmp_path / "allowed")], resolve=True)


def test_a_bind_the_engine_does_not_allow_is_refused_with_its_line() -> None:
    spec = parse_spec(SPEC)
    engine = EngineSettings(host="unix:///var/run/docker.sock", bind_paths=["/srv/shop"])
    check_binds(spec, "prod", "local", engine, local=False)
    with pytest.raises(DeployError) as caught:
        check_binds(spec, "prod", "local", engine, local=False, accessories=["db"])
    assert caught.value.message == ("dockyard.yml:11: accessories.db.binds[0]: host folder /etc is not one engine "
                                    "'local' allows (allowed: /srv/shop)")
    with pytest.raises(DeployError, match="dockyard.yml:6: services.web.binds.0.*allowed: none"):
        check_binds(spec, "prod", "local", EngineSettings(host="unix:///x"), local=False)
    with pytest.raises(DeployError, match="not supported on a Swarm engine"):
        check_binds(spec, "prod", "swarm", EngineSettings(host="unix:///x", swarm=True, bind_paths=["/"]),
                    local=False)


def test_a_host_path_that_climbs_is_refused_in_the_spec() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(SPEC.replace("/srv/shop/uploads", "/srv/shop/../../etc"), "dockyard.yml")
    assert caught.value.problems[0].startswith("dockyard.yml:6: services.web.binds[0].host: must not go up with '..'")
