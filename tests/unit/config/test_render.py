from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.config.render import render_files
from dockyard.errors import ConfigError


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    base = tmp_path / "app"
    (base / "deploy").mkdir(parents=True)
    (base / "deploy" / "app.conf.j2").write_text(
        "host = {{ DB_HOST }}\nttl = {{ config['cache.ttl'] }}\n{% include 'deploy/part.j2' %}"
    )
    (base / "deploy" / "part.j2").write_text("# part\nport = {{ DB_PORT }}\n")
    (base / "deploy" / "broken.j2").write_text("ok\nok\n{% for x in %}\n")
    return base


def test_renders_values_and_config_dict(templates: Path) -> None:
    out = render_files(
        {"/etc/app/app.conf": "deploy/app.conf.j2"},
        templates,
        {"DB_HOST": "db1", "cache.ttl": "60", "DB_PORT": "5432"},
    )
    assert out == {"/etc/app/app.conf": b"host = db1\nttl = 60\n# part\nport = 5432\n"}


def test_undefined_names_template_line_and_variable(templates: Path) -> None:
    with pytest.raises(ConfigError) as err:
        render_files(
            {"/etc/app/app.conf": "deploy/app.conf.j2"}, templates, {"DB_HOST": "db1", "cache.ttl": "1"}
        )
    assert err.value.message.startswith("deploy/part.j2:2: undefined variable 'DB_PORT'")
    with pytest.raises(ConfigError, match=r"deploy/app.conf.j2:2: undefined variable 'cache.ttl'"):
        render_files({"/x": "deploy/app.conf.j2"}, templates, {"DB_HOST": "db1", "DB_PORT": "1"})


def test_syntax_error_names_template_line(templates: Path) -> None:
    with pytest.raises(ConfigError, match=r"deploy/broken.j2:3: template syntax error"):
        render_files({"/x": "deploy/broken.j2"}, templates, {})


def test_missing_template_and_escape(templates: Path) -> None:
    with pytest.raises(ConfigError, match="nope.j2 .*not found"):
        render_files({"/x": "deploy/nope.j2"}, templates, {})
    (templates.parent / "outside.j2").write_text("secret")
    with pytest.raises(ConfigError, match="outside the app directory"):
        render_files({"/x": "../outside.j2"}, templates, {})
