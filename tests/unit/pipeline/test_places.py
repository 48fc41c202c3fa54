"""The server's paths out of what the API and a run show (issue 28): each becomes a name."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.pipeline.places import Places, home_name, named, server_places


def test_paths_under_home_get_names() -> None:
    sha = "0123456789abcdef" * 2 + "01234567"
    assert home_name("") == "DOCKYARD_HOME"
    assert home_name(f"/work/shop/commits/{sha}/dockyard.yml") == "0123456789ab:dockyard.yml"
    assert home_name(f"/work/shop/commits/{sha}") == "commit 0123456789ab"
    assert home_name("/work/shop/mirror.git") == "the mirror of shop"
    assert home_name("/state.db") == "state.db" and home_name("/state.db-wal") == "state.db-wal"
    assert home_name("/locks/shop-testing.lock") == "a deploy lock"
    assert home_name("/something/new") == "a file of DOCKYARD_HOME"


def test_hide_replaces_whole_paths_and_keeps_the_rest() -> None:
    places = Places({"/srv/dy": home_name, "/srv/git/shop.git": named("the repository of shop")})
    text = ("/srv/dy/work/shop/commits/" + "a" * 40 + "/dockyard.yml:12: services.web.port: must be > 0; "
            "fatal: 'file:///srv/git/shop.git' is not a repository; state database /srv/dy/state.db: locked")
    assert places.hide(text) == ("aaaaaaaaaaaa:dockyard.yml:12: services.web.port: must be > 0; "
                                 "fatal: 'the repository of shop' is not a repository; "
                                 "state database state.db: locked")
    # a neighbour of a place, and paths inside containers, are not the server's
    assert places.hide("/srv/dy2/x /srv/dyx /run/secrets/DB /etc/app/app.conf") == \
        "/srv/dy2/x /srv/dyx /run/secrets/DB /etc/app/app.conf"
    assert Places({}).hide("/srv/dy/state.db") == "/srv/dy/state.db"


def test_the_servers_places(dockyard_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "shop.git"
    places = server_places([("shop", f"file://{repo}"), ("blog", "https://git.example/team/blog.git")])
    message = (f"cannot read {repo}: see {dockyard_env}/work/shop/mirror.git, "
               f"{tmp_path}/keys/secret.key and /run/dockyard-test/secrets/x")
    shown = places.hide(message)
    assert str(tmp_path) not in shown and "/run/dockyard-test" not in shown
    assert shown == ("cannot read the repository of shop: see the mirror of shop, the secret key file and "
                     "Dockyard's run folder")
    assert places.hide("https://git.example/team/blog.git") == "https://git.example/team/blog.git"
