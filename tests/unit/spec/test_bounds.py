"""What a commit may not decide (issue 28): its app's name, where it runs and with which rights. Each
problem names the field (file:line) and the bound it broke."""

from __future__ import annotations

import pytest

from dockyard.errors import Forbidden
from dockyard.pipeline.model import check_commit
from dockyard.settings import AppPolicy
from dockyard.spec import parse_spec
from dockyard.spec.bounds import changed_bounds, identity_problem, nested_binds, policy_problems

BASE = """\
app: shop
services:
  web:
    port: 8080
    user: "{user}"
    capabilities: {caps}
    binds: {binds}
accessories:
  db: {{image: "{image}", publish: 15432, port: 5432}}
environments:
  testing: {{engine: local}}
  production: {{engine: {engine}, domains: [{domain}], strategy: blue-green, router: {{live: 8000, preview: 8001}}}}
"""


def spec(app: str = "shop", user: str = "65534", caps: str = "[]", binds: str = "[]", image: str = "dockyard/pg:15",
         engine: str = "prod", domain: str = "shop.example"):  # type: ignore[no-untyped-def]
    text = BASE.format(user=user, caps=caps, binds=binds, image=image, engine=engine, domain=domain)
    return parse_spec(text.replace("app: shop", f"app: {app}"), "dockyard.yml")


def test_a_commit_cannot_take_another_app_s_name() -> None:
    assert identity_problem(spec(), "shop") is None
    problem = identity_problem(spec(app="billing"), "shop")
    assert problem == ("dockyard.yml:1: app is 'billing', but this repository is registered as 'shop': a commit "
                       "cannot run under another app's name")


def test_the_default_policy_refuses_root_and_added_capabilities_and_nothing_else() -> None:
    assert policy_problems(spec(), AppPolicy()) == []
    problems = policy_problems(spec(user="0", caps="[NET_ADMIN]"), AppPolicy())
    assert problems[0].startswith("dockyard.yml:5: services.web.user '0' is root, which the site does not allow shop")
    assert problems[1] == "dockyard.yml:6: services.web.capabilities NET_ADMIN: not allowed for shop (allowed: none)"
    granted = AppPolicy(allow_root=True, capabilities=["NET_ADMIN"])
    assert policy_problems(spec(user="root", caps="[cap_net_admin]"), granted) == []


def test_placement_stays_inside_the_site_s_bounds() -> None:
    policy = AppPolicy(engines={"production": ["prod"], "*": ["local"]}, domains=[".shop.example"],
                       binds=["/srv/shop"], host_ports=["8000-8001"], images=["dockyard/"])
    assert policy_problems(spec(domain="www.shop.example", binds="[{host: /srv/shop/up, path: /up}]"), policy) == [
        "dockyard.yml:9: accessories.db.publish: host port 15432 is not one the site allows shop (8000-8001)"]
    wide = AppPolicy(engines={"production": ["prod"]}, domains=[".shop.example"], binds=["/srv/shop"],
                     images=["dockyard/"])
    problems = policy_problems(spec(engine="other", domain="bank.example", image="evil/pg",
                                    binds="[{host: /srv/bank, path: /b}]"), wide)
    assert sorted(p.split(": ", 1)[1] for p in problems) == sorted([
        "environments.testing.engine 'local' is not one the site allows shop in testing (none)",
        "environments.production.engine 'other' is not one the site allows shop in production (prod)",
        "environments.production: bank.example is not a name the site allows shop to serve (.shop.example)",
        "accessories.db.image evil/pg is not from a source the site allows shop (dockyard/)",
        "services.web.binds[0] host folder /srv/bank is not under a folder the site allows shop (/srv/shop)",
    ])


def test_a_bind_inside_another_writable_bind_is_refused_it_could_become_a_symlink() -> None:
    nested = spec(binds="[{host: /srv/shop, path: /mnt}, {host: /srv/shop/data, path: /data}]")
    assert nested_binds(nested) == [
        "dockyard.yml:7: services.web.binds[1] host folder /srv/shop/data lies inside /srv/shop, which services.web "
        "mounts writable: a container could replace it with a symlink; bind folders side by side"]
    read_only = spec(binds="[{host: /srv/shop, path: /mnt, read_only: true}, {host: /srv/shop/data, path: /data}]")
    side_by_side = spec(binds="[{host: /srv/shop/a, path: /a}, {host: /srv/shop/b, path: /b}]")
    assert nested_binds(read_only) == [] and nested_binds(side_by_side) == []


def test_another_branch_cannot_change_what_the_default_branch_chose() -> None:
    default = spec()
    assert changed_bounds(spec(), default, "feature") == []
    moved = changed_bounds(spec(engine="other", domain="evil.example"), default, "feature")
    assert [m.split(": ", 1)[1].split(" (")[0] for m in moved] == [
        "environments.production.domains differs from the default branch",
        "environments.production.engine differs from the default branch"]


def test_check_commit_refuses_naming_each_field_and_lets_the_default_branch_choose() -> None:
    policy = AppPolicy()
    check_commit("shop", spec(engine="other"), spec(), "main", "main", policy, ["production"])  # its own choice
    with pytest.raises(Forbidden, match="registered as 'shop'"):
        check_commit("shop", spec(app="billing"), spec(), "main", "main", policy, ["testing"])
    with pytest.raises(Forbidden, match="engine differs from the default branch") as refused:
        check_commit("shop", spec(engine="other"), spec(), "feature", "main", policy, ["testing"])
    assert "not starting a run" in refused.value.message


@pytest.mark.parametrize("path", ["/.well-known", "/.well-known/acme-challenge", "/.well-known/acme-challenge/x"])
def test_the_acme_challenge_path_cannot_be_claimed(path: str) -> None:
    from dockyard.errors import SpecError

    text = BASE.format(user="65534", caps="[]", binds="[]", image="x", engine="prod", domain="shop.example")
    with pytest.raises(SpecError, match="acme-challenge/, where the edge answers the certificate authority"):
        parse_spec(text.replace("domains: [shop.example]", f"domains: [shop.example], path: {path}"), "dockyard.yml")
    assert parse_spec(text.replace("domains: [shop.example]", "domains: [shop.example], path: /.well-known-x"),
                      "dockyard.yml").environment("production").path == "/.well-known-x"
