"""The settings file's checked copy: read commands take engines, the config store, the agent and the
edge's address from it without pydantic, and never from a copy of other bytes than the file's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard import settings
from dockyard.errors import DockyardError

SITE = """\
config_store: sqlite:////srv/dockyard/config.db
agent_url: http://127.0.0.1:9107
engines:
  tls-host: {host: "tcp://10.0.0.5:2376", tls_ca: /etc/dockyard/ca.pem, swarm: true, bind_paths: [/srv/data]}
edge: {address: 0.0.0.0, http_port: 8080}
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("DOCKYARD_HOME", str(home))
    monkeypatch.delenv("DOCKYARD_CONFIG_STORE", raising=False)
    home.mkdir(mode=0o700)
    (home / "settings.yml").write_text(SITE)
    return home


def test_the_file_is_read_as_validated(site: Path) -> None:
    found = settings.engine("tls-host")
    assert (found.host, found.tls_ca, found.swarm, found.bind_paths) == (
        "tcp://10.0.0.5:2376", "/etc/dockyard/ca.pem", True, ["/srv/data"])
    assert settings.engine("local").host.startswith("unix://")
    assert settings.config_store_url() == "sqlite:////srv/dockyard/config.db"
    assert settings.agent_url() == "http://127.0.0.1:9107"
    assert settings.edge_address() == ("0.0.0.0", 8080, 443)
    assert (site / settings.CHECKED).stat().st_mode & 0o777 == 0o600


def test_a_second_read_loads_no_pydantic(site: Path) -> None:
    settings.engine("tls-host")  # makes the copy
    out = in_a_new_process(site, "e = settings.engine('tls-host'); settings.config_store_url(); "
                                 "settings.edge_address(); print(e.host, 'pydantic' in sys.modules)")
    assert out.split() == ["tcp://10.0.0.5:2376", "False"]


def in_a_new_process(home: Path, code: str) -> str:
    """What `code` prints in a fresh process (none of this one's reads remembered) on `home`."""
    repo = Path(__file__).resolve().parents[2]  # this checkout's dockyard, whichever the venv points at
    return subprocess.run([sys.executable, "-c", "import sys; from dockyard import settings; " + code],
                          env={**os.environ, "DOCKYARD_HOME": str(home), "PYTHONPATH": str(repo)},
                          capture_output=True, text=True, check=True).stdout


def test_an_edited_file_is_validated_again(site: Path) -> None:
    settings.engine("tls-host")
    (site / "settings.yml").write_text(SITE.replace("swarm: true", "swarm: maybe"))
    with pytest.raises(DockyardError, match="engines.tls-host.swarm"):
        settings.engine("tls-host")
    (site / "settings.yml").write_text(SITE.replace("tls-host", "other-host"))
    with pytest.raises(DockyardError, match="engine 'tls-host' is not registered"):
        settings.engine("tls-host")
    assert settings.engine("other-host").host == "tcp://10.0.0.5:2376"


def test_an_unknown_key_is_refused_as_before(site: Path) -> None:
    (site / "settings.yml").write_text(SITE.replace("swarm: true", "swram: true"))
    with pytest.raises(DockyardError, match="swram"):
        settings.engine("tls-host")


def test_a_copy_of_other_bytes_is_not_believed(site: Path) -> None:
    """A copy whose key is not the file's (written by hand, or left from another file) is made again."""
    settings.engine("tls-host")
    copy = site / settings.CHECKED
    copy.write_text(copy.read_text().replace("10.0.0.5", "10.6.6.6").replace('"key":"', '"key":"0'))
    assert in_a_new_process(site, "print(settings.engine('tls-host').host)").strip() == "tcp://10.0.0.5:2376"


def test_no_file_needs_no_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("DOCKYARD_CONFIG_STORE", raising=False)
    assert settings.engine("local").host.startswith("unix://")
    assert settings.edge_address() == ("127.0.0.1", 80, 443)
    assert settings.agent_url() is None
    assert not (tmp_path / "empty" / settings.CHECKED).exists()
