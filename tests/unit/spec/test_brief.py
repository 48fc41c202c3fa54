"""What read commands know of dockyard.yml (spec/brief.py): made from the validated spec, kept per
content, never believed for other bytes, and read back without pydantic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.errors import NotFound, SpecError
from dockyard.spec import load_spec, parse_spec
from dockyard.spec.brief import HealthBrief, brief_of, kept_brief, load_and_keep, read_brief

SPEC = """\
app: shop
services:
  worker:
    command: [sh, -c, "sleep 1d"]
  web:
    command: [httpd, -f, -p, "8080"]
    port: 8080
    health: {path: /health}
  api:
    port: 9000
accessories:
  db: {image: "dockyard/redis:7.0", port: 6379}
environments:
  testing: {engine: local, accessories: []}
  production: {engine: tls-host}
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCKYARD_HOME", str(tmp_path / "home"))
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "dockyard.yml").write_text(SPEC)
    return folder


def test_the_brief_of_a_spec() -> None:
    brief = brief_of(parse_spec(SPEC))
    assert brief.app == "shop"
    assert brief.env_names() == ["testing", "production"]
    assert (brief.engine("testing"), brief.engine("production")) == ("local", "tls-host")
    assert (brief.accessories_of("testing"), brief.accessories_of("production")) == ([], ["db"])
    assert brief.routed == "web"  # the first service with a port
    assert brief.probes == {"worker": "running", "web": "http:/health", "api": "tcp"}
    # what a rollback's switch back waits on and stops with
    assert brief.health == {"worker": None, "web": HealthBrief("/health", 1.0, 2.0, 60.0, False), "api": None}
    assert brief.grace == {"worker": 10.0, "web": 10.0, "api": 10.0}


def test_a_kept_brief_is_read_only_for_the_bytes_it_was_made_of(app: Path) -> None:
    """What the audit log names a command's app by: never a validation, never an old brief."""
    assert kept_brief(app) is None  # never validated
    read_brief(app)
    kept = kept_brief(app / "dockyard.yml")
    assert kept is not None and kept.app == "shop" and kept == read_brief(app)
    (app / "dockyard.yml").write_text(SPEC.replace("app: shop", "app: shop-two"))
    assert kept_brief(app) is None


def test_a_name_the_spec_does_not_define_is_refused_as_the_spec_says_it(app: Path) -> None:
    brief, spec = read_brief(app), load_spec(app)
    for ask in (lambda s: s.engine("prod"), lambda s: s.accessories_of("staging")):
        with pytest.raises(NotFound) as from_brief:
            ask(brief)
        with pytest.raises(NotFound) as from_spec:
            spec.environment(str(from_brief.value).split("'")[1])
        assert (str(from_brief.value), from_brief.value.hint) == (str(from_spec.value), from_spec.value.hint)
    said = r"no service 'wbe' in .*dockyard.yml \(defined: worker, web, api\)\n.*did you mean 'web'"
    with pytest.raises(NotFound, match=said):
        brief.check_service("wbe")


def test_it_is_kept_once_validated_and_read_back_without_pydantic(app: Path, tmp_path: Path) -> None:
    assert read_brief(app).app == "shop"
    kept = list((tmp_path / "home" / "briefs").glob("*.json"))
    assert len(kept) == 1 and kept[0].stat().st_mode & 0o777 == 0o600
    repo = Path(__file__).resolve().parents[3]
    code = ("import sys; from pathlib import Path; from dockyard.spec.brief import read_brief; "
            f"b = read_brief(Path({str(app)!r})); print(b.app, b.routed, 'pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "DOCKYARD_HOME": str(tmp_path / "home"), "PYTHONPATH": str(repo)}).stdout
    assert out.split() == ["shop", "web", "False"]


def test_an_edited_spec_is_validated_again_with_its_problems_by_line(app: Path) -> None:
    read_brief(app)
    (app / "dockyard.yml").write_text(SPEC.replace("port: 9000", "port: ninety"))
    with pytest.raises(SpecError, match=r"dockyard.yml:10: services.api.port"):
        read_brief(app)
    (app / "dockyard.yml").write_text(SPEC.replace("app: shop", "app: shop-two"))
    assert read_brief(app).app == "shop-two"


def test_a_brief_of_other_bytes_is_not_believed(app: Path, tmp_path: Path) -> None:
    read_brief(app)
    kept = next((tmp_path / "home" / "briefs").glob("*.json"))
    kept.write_text(kept.read_text().replace('"shop"', '"someone-else"').replace('"key":"', '"key":"0'))
    assert read_brief(app).app == "shop"


def test_a_copy_in_another_folder_is_validated_there(app: Path, tmp_path: Path) -> None:
    """Its templates are checked relative to its own folder: a brief of the same bytes elsewhere does not do."""
    text = SPEC.replace("environments:", "config:\n  files: {/etc/app.conf: app.conf.j2}\nenvironments:")
    (app / "dockyard.yml").write_text(text)
    (app / "app.conf.j2").write_text("x={{ X }}\n")
    read_brief(app)
    other = tmp_path / "other"
    other.mkdir()
    (other / "dockyard.yml").write_text(text)
    with pytest.raises(SpecError, match="app.conf.j2"):
        read_brief(other)


def test_a_missing_spec_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_HOME", str(tmp_path / "home"))
    with pytest.raises(SpecError, match="file not found"):
        read_brief(tmp_path / "nowhere" / "dockyard.yml")


def test_a_whole_read_keeps_the_brief_for_the_reads_after_it(app: Path) -> None:
    """A deploy reads the whole spec: the read or the rollback after it does not validate it again."""
    assert kept_brief(app) is None
    spec = load_and_keep(app)
    kept = kept_brief(app)
    assert kept is not None and kept == brief_of(spec) and kept.app == "shop"
