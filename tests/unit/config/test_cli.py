from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from dockyard.cli.config_cmds import config_app, secret_app
from dockyard.errors import DockyardError

SECRET = "hunter2-XYZZY"
app = typer.Typer()
app.add_typer(config_app, name="config")
app.add_typer(secret_app, name="secret")


def run(*args: str, code: int = 0, stdin: str | None = None) -> Result:
    """Invoke like the real top level: a DockyardError becomes `error: ...` and its exit code."""
    result = CliRunner().invoke(app, list(args), input=stdin, env={"COLUMNS": "200"})
    output = result.output
    exit_code = result.exit_code
    if isinstance(result.exception, DockyardError):
        output += f"error: {result.exception}\n"
        exit_code = result.exception.exit_code
    elif result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert exit_code == code, output
    result.output_text = output  # type: ignore[attr-defined]
    return result


def text(result: Result) -> str:
    return result.output_text  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def seeded() -> None:
    run("config", "set", "staging", "DB_HOST=db-s", "DOMAIN=s.example", "--shared", "--new-env")
    run("config", "set", "staging", "DB_HOST=db-shop", "--app", "shop")
    run("secret", "set", "staging", "DB_PASSWORD", "--app", "shop", stdin=SECRET + "\n")
    run("config", "set", "production", "DB_HOST=db-p", "DOMAIN=example.com", "--shared", "--new-env")
    run("secret", "set", "production", "DB_PASSWORD", "--shared", stdin="other-pw")


def test_set_get_and_reveal(seeded: None) -> None:
    assert text(run("config", "get", "staging", "DB_HOST", "--app", "shop")) == "db-shop\n"
    assert text(run("config", "get", "staging", "DB_HOST", "--shared")) == "db-s\n"
    assert text(run("config", "get", "staging", "DB_PASSWORD", "--app", "shop")) == "***\n"
    assert text(run("config", "get", "staging", "DB_PASSWORD", "--app", "shop", "--reveal")) == SECRET + "\n"
    out = text(run("config", "get", "staging", "NOPE", "--app", "shop", code=1))
    assert "error: staging/shop: no key NOPE" in out


def test_ls_masks_unless_reveal(seeded: None) -> None:
    out = text(run("config", "ls", "staging", "--app", "shop"))
    assert SECRET not in "".join(out.split()) and "***" in out and "db-shop" in out and "s.example" in out
    data = json.loads(text(run("config", "ls", "staging", "--app", "shop", "--json")))
    assert data["values"]["DB_PASSWORD"] == {"value": "***", "secret": True, "source": "app"}
    assert data["values"]["DOMAIN"]["source"] == "shared" and data["revision"] == 5
    assert SECRET in text(run("config", "ls", "staging", "--app", "shop", "--reveal"))
    revealed = json.loads(text(run("config", "ls", "staging", "--app", "shop", "--json", "--reveal")))
    assert revealed["values"]["DB_PASSWORD"]["value"] == SECRET


def test_history_and_diff_never_leak(seeded: None) -> None:
    run("secret", "set", "staging", "DB_PASSWORD", "--app", "shop", stdin="second-" + SECRET)
    for args in (
        ("config", "history", "staging", "--app", "shop"),
        ("config", "history", "staging", "DB_PASSWORD", "--app", "shop", "--json"),
        ("config", "diff", "staging", "production", "--app", "shop"),
        ("config", "diff", "staging", "production", "--app", "shop", "--json"),
        ("config", "export", "staging", "--app", "shop"),
    ):
        assert SECRET not in "".join(text(run(*args)).split()), args  # wrap-proof: whitespace removed
    rows = json.loads(text(run("config", "history", "staging", "DB_PASSWORD", "--app", "shop", "--json")))
    assert [(r["action"], r["old"], r["new"], r["actor"]) for r in rows] == [
        ("changed", "***", "***", "tester"),
        ("added", None, "***", "tester"),
    ]
    rows = json.loads(
        text(run("config", "history", "staging", "DB_PASSWORD", "--app", "shop", "--json", "--reveal"))
    )
    assert rows[0]["new"] == "second-" + SECRET
    diff = json.loads(text(run("config", "diff", "staging", "production", "--app", "shop", "--json")))
    changes = {c["key"]: c for c in diff["changes"]}
    assert changes["DB_PASSWORD"] == {
        "key": "DB_PASSWORD",
        "change": "changed",
        "a": "***",
        "b": "***",
        "secret": True,
    }
    assert changes["DOMAIN"]["a"] == "s.example"
    assert SECRET in text(run("config", "diff", "staging", "production", "--app", "shop", "--reveal"))


def test_rm_import_export(seeded: None, tmp_path: Path) -> None:
    out = text(run("config", "rm", "staging", "DB_HOST", "GONE", "--app", "shop", code=1))
    assert "no such key: GONE" in out
    run("config", "rm", "staging", "DB_HOST", "--app", "shop")
    assert text(run("config", "get", "staging", "DB_HOST", "--app", "shop")) == "db-s\n"
    exported = text(run("config", "export", "staging", "--app", "shop", "--reveal"))
    (tmp_path / "shop.yml").write_text(exported)
    out = text(run("config", "import", "qa", str(tmp_path / "shop.yml"), "--app", "shop", "--new-env"))
    assert "imported 1 keys" in out
    assert text(run("config", "get", "qa", "DB_PASSWORD", "--app", "shop", "--reveal")) == SECRET + "\n"
    (tmp_path / "bad.env").write_text("A=1\nbroken line\n")
    out = text(run("config", "import", str(tmp_path / "bad.env"), "--env", "qa", "--app", "shop", code=1))
    assert "bad.env:2: expected KEY=VALUE" in out
    assert "is the old order; say `dockyard config import qa " in out  # still works, for a release


def test_app_from_dockyard_yml_and_usage_errors(tmp_path: Path) -> None:
    out = text(run("config", "set", "staging", "A=1", code=2))
    assert "--app APP" in out
    assert "not both" in text(run("config", "ls", "staging", "--app", "x", "--shared", code=2))
    assert "expected KEY=VALUE" in text(run("config", "set", "staging", "A", "--shared", code=2))
    (tmp_path / "dockyard.yml").write_text("app: shop-api\nservices: {}\nenvironments: {staging: {}}\n")
    run("config", "set", "staging", "A=1")
    assert text(run("config", "get", "staging", "A", "--app", "shop-api")) == "1\n"
    assert "empty value" in text(run("secret", "set", "staging", "PW", stdin="", code=2))


def test_every_command_has_an_example_in_help() -> None:
    for group, names in (
        (("config",), ("set", "get", "ls", "rm", "history", "diff", "import", "export")),
        (("secret",), ("set",)),
    ):
        for name in names:
            out = text(run(*group, name, "--help"))
            assert "Example: " in out and "dockyard " in out, (group, name)


def test_a_key_for_an_environment_no_dockyard_yml_names_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dockyard.yml").write_text("app: shop-api\nservices: {}\nenvironments: {staging: {}, production: {}}\n")
    for args, stdin in ((("config", "set", "prodution", "A=1"), None), (("secret", "set", "prodution", "PW"), "pw")):
        out = text(run(*args, stdin=stdin, code=2))
        assert "no dockyard.yml names environment 'prodution'; did you mean 'production'?" in out
        assert "--new-env" in out
    out = text(run("config", "set", "qa", "A=1", "--shared", code=2))
    assert "no dockyard.yml names environment 'qa' (known: staging, production)" in out
    run("config", "set", "qa", "B=2", "--app", "shop-api", code=2)  # still unknown: the refusal wrote nothing
    run("config", "set", "qa", "A=1", "--shared", "--new-env")
    run("config", "set", "qa", "B=2", "--app", "shop-api")  # known now: it holds keys
