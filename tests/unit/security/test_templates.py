"""Config templates come from a commit: they render sandboxed, from files of the repository only
(issue 12, finding 2). Each attack here ran as root on the old plain jinja2.Environment."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from dockyard.config.render import render_files
from dockyard.errors import BuildError, ConfigError

ESCAPES = [
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ config.__class__.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].environ }}",
    "{% set x = config.update({'DB_PASSWORD': 'changed'}) %}{{ config.DB_PASSWORD }}",
]


@pytest.mark.parametrize("payload", ESCAPES)
def test_a_template_cannot_reach_python(tmp_path: Path, payload: str) -> None:
    (tmp_path / "app.conf.j2").write_text(payload)
    with pytest.raises(ConfigError) as err:
        render_files({"/etc/app.conf": "app.conf.j2"}, tmp_path, {"DB_PASSWORD": "s3cret"})
    assert "uid=" not in str(err.value) and "s3cret" not in str(err.value)


def test_values_and_filters_still_render(tmp_path: Path) -> None:
    (tmp_path / "app.conf.j2").write_text("host={{ DB_HOST | upper }}\nttl={{ config['cache.ttl'] }}\n"
                                          "{% for k in config | sort %}{{ k }} {% endfor %}\n")
    out = render_files({"/etc/app.conf": "app.conf.j2"}, tmp_path, {"DB_HOST": "db1", "cache.ttl": "60"})
    assert out["/etc/app.conf"] == b"host=DB1\nttl=60\ncache.ttl DB_HOST \n"


@pytest.mark.parametrize("link", ["absolute", "relative", "include"])
def test_a_symlink_out_of_the_repository_is_refused(tmp_path: Path, link: str) -> None:
    secret = tmp_path / "secret.key"
    secret.write_text("the-master-key")
    repo = tmp_path / "repo"
    repo.mkdir()
    if link == "absolute":
        (repo / "x.j2").symlink_to(secret)
        template = "x.j2"
    elif link == "relative":
        (repo / "x.j2").symlink_to("../secret.key")
        template = "x.j2"
    else:
        (repo / "inc.j2").symlink_to(secret)
        (repo / "main.j2").write_text("{% include 'inc.j2' %}")
        template = "main.j2"
    with pytest.raises(ConfigError, match="outside the app directory") as err:
        render_files({"/etc/app.conf": template}, repo, {})
    assert "the-master-key" not in str(err.value)


def test_a_symlink_inside_the_repository_is_fine(tmp_path: Path) -> None:
    (tmp_path / "real.j2").write_text("v={{ V }}")
    (tmp_path / "alias.j2").symlink_to("real.j2")
    assert render_files({"/a": "alias.j2"}, tmp_path, {"V": "1"}) == {"/a": b"v=1"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def test_a_commit_with_a_link_outside_is_not_exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dockyard.pipeline.source import export_commit

    monkeypatch.setenv("DOCKYARD_HOME", str(tmp_path / "home"))
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "ok.txt").write_text("fine")
    os.symlink("/etc/hostname", repo / "x.j2")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "link")
    commit = git(repo, "rev-parse", "HEAD").strip()
    with pytest.raises(BuildError, match="points outside the repository"):
        export_commit("app", str(repo), commit)
    assert not (tmp_path / "home" / "work" / "app" / "commits" / commit).exists()
