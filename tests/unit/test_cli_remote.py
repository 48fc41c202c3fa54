"""Which command lines `dockyard` forwards to a running server, and how its answers are shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.cli.argv import app_name, split_global
from dockyard.cli.remote import Forward, Refused, error_of, forwardable, token, try_forward

SERVER = {"DOCKYARD_SERVER": "http://127.0.0.1:8700/"}


def test_only_a_rollback_is_forwarded_and_only_when_a_server_is_named(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert forwardable(["rollback", "production"], SERVER) == Forward(
        "http://127.0.0.1:8700", "production", tmp_path / "dockyard.yml", False)
    assert forwardable(["-f", "other.yml", "rollback", "staging", "--json"], SERVER) == Forward(
        "http://127.0.0.1:8700", "staging", tmp_path / "other.yml", True)
    assert forwardable(["rollback", "production"], {**SERVER, "DOCKYARD_FILE": "/srv/app/dy.yml"}).spec_file == \
        Path("/srv/app/dy.yml")
    assert forwardable(["rollback", "production"], {}) is None
    for other in (["deploy", "production"], ["rollback"], ["rollback", "a", "b"], ["rollback", "--help"],
                  ["rollback", "production", "--dry-run"], ["--help"], []):
        assert forwardable(other, SERVER) is None, other


def test_the_global_option_comes_before_the_command() -> None:
    assert split_global(["--file=x.yml", "status", "-f", "y"]) == ("x.yml", ["status", "-f", "y"])
    assert split_global(["-f", "x.yml"]) == ("x.yml", None)
    assert split_global(["--version", "rollback"]) == (None, None)


def test_the_app_name_is_read_without_the_spec_models(tmp_path: Path) -> None:
    spec = tmp_path / "dockyard.yml"
    spec.write_text("app: shop\nservices: {}\n")
    assert app_name(spec) == "shop"
    for text in ("app: [1, 2]\n", "- a list\n", "app: 'unclosed\n", ""):
        spec.write_text(text)
        assert app_name(spec) is None  # left to the full CLI, which reports it with file:line
    assert app_name(tmp_path / "missing.yml") is None


def test_the_token_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("dy_abc\n")
    assert token({"DOCKYARD_TOKEN_FILE": str(path), "DOCKYARD_TOKEN": "other"}) == "dy_abc"
    assert token({"DOCKYARD_TOKEN": " dy_env "}) == "dy_env"
    with pytest.raises(Refused) as missing:
        token({})
    assert missing.value.exit_code == 2 and "DOCKYARD_TOKEN_FILE" in missing.value.message
    with pytest.raises(Refused) as unreadable:
        token({"DOCKYARD_TOKEN_FILE": str(tmp_path / "nope")})
    assert "cannot read it" in unreadable.value.message


def test_error_answers_become_messages_and_exit_codes() -> None:
    assert error_of(404, b'{"error": "shop/production has no live release", "hint": "deploy first"}') == (
        "shop/production has no live release\n  hint: deploy first", 1)
    assert error_of(400, b'{"error": "dockyard.yml:3: bad"}') == ("dockyard.yml:3: bad", 2)
    message, code = error_of(502, b"<html>bad gateway</html>")
    assert code == 1 and message.startswith("dockyard server answered 502: <html>")


def test_forwarding_loads_neither_typer_nor_docker() -> None:
    code = ("import sys; import dockyard.cli.remote; "
            "print(any(m in sys.modules for m in ('typer', 'docker', 'pydantic', 'rich')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_server_that_is_not_a_url_is_refused_before_anything_is_sent(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dockyard.yml").write_text("app: shop\n")
    assert try_forward(["rollback", "production"], {"DOCKYARD_SERVER": "127.0.0.1:8700",
                                                    "DOCKYARD_TOKEN": "dy_x"}) == 2
    assert "is not a URL like http://127.0.0.1:8700" in capsys.readouterr().err
