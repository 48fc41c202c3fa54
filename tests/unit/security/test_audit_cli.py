"""`dockyard audit [ENV]` (issue 27: ENV is the first argument everywhere), `audit --env` kept for a
release with a warning, and `audit verify` / `audit --verify`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dockyard.cli.audit_cmds import register
from dockyard.errors import UsageError
from dockyard.state.audit import AuditLog
from dockyard.state.db import StateDB


@pytest.fixture()
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("DOCKYARD_HOME", str(tmp_path))
    db = StateDB()
    log = AuditLog(db)
    log.record("ann", "cli", "deploy", "shop/production", "ok", "")
    log.record("bob", "cli", "config set", "shop/staging", "ok", "KEY")
    db.close()
    app = typer.Typer()
    register(app)
    app.command("unused", hidden=True)(lambda: None)  # a group of two, as in main.py: `audit` stays a word
    return app


def run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    """Exit code, stdout, stderr; a UsageError as main() shows it (exit 2, its message on stderr)."""
    result = CliRunner().invoke(app, ["audit", *args])
    if isinstance(result.exception, UsageError):
        return result.exception.exit_code, result.stdout, str(result.exception)
    return result.exit_code, result.stdout, result.stderr


def test_env_is_the_first_argument_and_the_old_option_warns(cli: typer.Typer) -> None:
    code, out, _ = run(cli, "production", "--json")
    assert code == 0 and [r["target"] for r in json.loads(out)] == ["shop/production"]
    code, out, err = run(cli, "--env", "staging", "--json")
    assert code == 0 and [r["target"] for r in json.loads(out)] == ["shop/staging"]
    assert "`audit --env staging` is the old spelling; say `dockyard audit staging`" in err
    code, _, err = run(cli, "production", "--env", "staging")
    assert code == 2 and "name the environment once" in err


def test_verify_is_a_word_or_a_flag_and_takes_no_env(cli: typer.Typer) -> None:
    for args in (["verify"], ["--verify"]):
        code, out, _ = run(cli, *args)
        assert code == 0 and out.startswith("audit log whole: 2 rows"), out
    code, _, err = run(cli, "production", "--verify")
    assert code == 2 and "takes no ENV" in err
