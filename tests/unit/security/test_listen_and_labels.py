"""Off-loopback listeners, tokens over http, TLS-less engines and node labels (issue 12, low findings)."""
from __future__ import annotations

import pytest

from dockyard.cli.remote import try_forward
from dockyard.engine.swarm_facts import publish_address
from dockyard.errors import UsageError
from dockyard.netcheck import check_listen, is_loopback


def test_loopback_is_recognised() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.3.4.5")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5") and not is_loopback("example.com")


def test_a_listener_off_loopback_needs_tls_or_a_word() -> None:
    check_listen("dockyard server", "127.0.0.1", tls=False, insecure=False)
    check_listen("dockyard server", "0.0.0.0", tls=True, insecure=False)
    check_listen("dockyard agent", "10.0.0.5", tls=False, insecure=True)
    with pytest.raises(UsageError, match="without TLS"):
        check_listen("dockyard agent", "0.0.0.0", tls=False, insecure=False)


def test_a_token_is_never_sent_in_the_clear_to_another_host(tmp_path, capsys) -> None:
    spec = tmp_path / "dockyard.yml"
    spec.write_text("app: shop\n")
    code = try_forward(["-f", str(spec), "rollback", "production"],
                       {"DOCKYARD_SERVER": "http://10.0.0.5:8700", "DOCKYARD_TOKEN": "dy_secret"})
    assert code == 2
    assert "in the clear" in capsys.readouterr().err


def test_a_node_label_that_is_not_an_address_is_ignored() -> None:
    assert publish_address("10.0.0.7", "10.0.0.2") == "10.0.0.7"
    assert publish_address("1.2.3.4; include /etc/shadow", "10.0.0.2") == "10.0.0.2"
    assert publish_address(None, "10.0.0.2") == "10.0.0.2"


def test_a_plain_tcp_engine_off_this_host_is_refused(tmp_path) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    dockyard = str(Path(sys.executable).parent / "dockyard")
    env = {**os.environ, "DOCKYARD_HOME": str(tmp_path / "home")}
    refused = subprocess.run([dockyard, "engine", "add", "far", "--host", "tcp://10.0.0.5:2375"], env=env,
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "without TLS" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "home" / "settings.yml").exists()
    allowed = subprocess.run([dockyard, "engine", "add", "far", "--host", "tcp://10.0.0.5:2375", "--insecure"],
                             env=env, capture_output=True, text=True)
    assert allowed.returncode == 0 and "has no TLS" in allowed.stdout
