"""What a commit may not decide (issue 28, docs/security.md): under whose name it runs, where, and with
which rights. Pure: the spec, the app's site policy and the default branch's spec in; the problems out,
each with the file:line of the field and the bound it broke.

- Identity: `app:` must be the name the app was registered under, on every branch.
- Policy: engines per environment (`previews` for every pull request's preview), domain names, bind
  folders, root, capabilities, host ports and accessories' images stay inside the bounds an admin set
  (`dockyard app policy`).
- Freeze: a commit on another branch than the default one may not change any of those fields from
  the default branch's values (the default branch chooses within the policy; other branches follow).
- Binds: no bind's host folder lies under another bind's writable folder (a container could replace
  it with a symlink, and Docker follows it at the next start).
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.settings_model import AppPolicy
    from dockyard.spec.model import AppSpec, BindSpec

ROOT_USERS = ("root", "0")


def is_root(user: str | None) -> bool:
    return bool(user) and str(user).split(":")[0] in ROOT_USERS


def identity_problem(spec: AppSpec, registered: str) -> str | None:
    if spec.app == registered:
        return None
    return (f"{spec.where('app')}: app is {spec.app!r}, but this repository is registered as {registered!r}: a "
            "commit cannot run under another app's name")


def bounded_fields(spec: AppSpec) -> dict[tuple[Any, ...], Any]:
    """Key path -> value of every field a commit does not decide (the freeze compares these)."""
    out: dict[tuple[Any, ...], Any] = {("app",): spec.app}
    # which environment a preview copies, its name, life and number: the default branch's (issue 33)
    out[("previews",)] = spec.previews.model_dump(by_alias=True) if spec.previews else None
    for name, env in spec.environments.items():
        where = ("environments", name)
        out[(*where, "engine")] = env.engine
        out[(*where, "domains")] = list(env.domains)
        out[(*where, "redirects")] = dict(env.redirects)
        out[(*where, "path")] = env.path
        out[(*where, "router")] = [env.router.live, env.router.preview] if env.router else None
        out[(*where, "accessories")] = env.accessories
    for name, service in spec.services.items():
        out[("services", name, "binds")] = [b.model_dump() for b in service.binds]
        out[("services", name, "user")] = service.user
        out[("services", name, "capabilities")] = list(service.capabilities)
    for name, accessory in spec.accessories.items():
        where = ("accessories", name)
        out[(*where, "image")] = accessory.image
        out[(*where, "binds")] = [b.model_dump() for b in accessory.binds]
        out[(*where, "user")] = accessory.user
        out[(*where, "capabilities")] = list(accessory.capabilities)
        out[(*where, "publish")] = accessory.publish
    return out


def changed_bounds(commit: AppSpec, default: AppSpec, branch: str) -> list[str]:
    """The fields a commit on `branch` (not the default one) changed from the default branch's values."""
    mine, theirs = bounded_fields(commit), bounded_fields(default)
    problems = []
    for key in sorted(set(mine) | set(theirs), key=str):
        if mine.get(key) != theirs.get(key):
            problems.append(f"{commit.where(*key)}: {'.'.join(map(str, key))} differs from the default branch "
                            f"({_shown(theirs.get(key))} there, {_shown(mine.get(key))} here): a commit on branch "
                            f"{branch!r} cannot change where the app runs or with which rights")
    return problems


def policy_problems(spec: AppSpec, policy: AppPolicy, envs: list[str] | None = None) -> list[str]:
    """Every field of these environments (all by default) outside the app's site policy."""
    problems = []
    app = spec.app
    for name in envs if envs is not None else spec.env_names():
        env = spec.environment(name)
        allowed = None if policy.engines is None else policy.engines.get(
            "previews" if spec.is_preview(name) else name, policy.engines.get("*", []))
        if allowed is not None and env.engine not in allowed:
            problems.append(f"{spec.where('environments', name, 'engine')}: environments.{name}.engine "
                            f"{env.engine!r} is not one the site allows {app} in {name} "
                            f"({', '.join(allowed) or 'none'})")
        for host in env.names:
            if not name_allowed(host, policy.domains):
                problems.append(f"{spec.where('environments', name, 'domains')}: environments.{name}: {host} is "
                                f"not a name the site allows {app} to serve ({', '.join(policy.domains or [])})")
        if env.router is not None:
            for port in (env.router.live, env.router.preview):
                if not policy.port_allowed(port):
                    problems.append(f"{spec.where('environments', name, 'router')}: environments.{name}.router: "
                                    f"host port {port} is not one the site allows {app} "
                                    f"({', '.join(policy.host_ports or [])})")
        for acc_name in spec.accessories_of(name):
            accessory = spec.accessories[acc_name]
            if accessory.publish is not None and not policy.port_allowed(accessory.publish):
                problems.append(f"{spec.where('accessories', acc_name, 'publish')}: accessories.{acc_name}.publish: "
                                f"host port {accessory.publish} is not one the site allows {app} "
                                f"({', '.join(policy.host_ports or [])})")
            if policy.images is not None and accessory.image is not None and \
                    not any(accessory.image.startswith(prefix) for prefix in policy.images):
                problems.append(f"{spec.where('accessories', acc_name, 'image')}: accessories.{acc_name}.image "
                                f"{accessory.image} is not from a source the site allows {app} "
                                f"({', '.join(policy.images)})")
    for section, name, user, caps, binds in _runners(spec):
        if is_root(user) and not policy.allow_root:
            problems.append(f"{spec.where(section, name, 'user')}: {section}.{name}.user {user!r} is root, which the "
                            f"site does not allow {app}: run as a user of the image, or an admin allows it "
                            f"(dockyard app policy {app} --allow-root)")
        extra = [c for c in caps if c not in policy.capabilities]
        if extra:
            problems.append(f"{spec.where(section, name, 'capabilities')}: {section}.{name}.capabilities "
                            f"{', '.join(extra)}: not allowed for {app} (allowed: "
                            f"{', '.join(policy.capabilities) or 'none'})")
        for index, bind in enumerate(binds):
            if policy.binds is not None and not under(bind.host, policy.binds):
                problems.append(f"{spec.where(section, name, 'binds', index, 'host')}: {section}.{name}.binds[{index}] "
                                f"host folder {bind.host} is not under a folder the site allows {app} "
                                f"({', '.join(policy.binds) or 'none'})")
    return list(dict.fromkeys(problems + nested_binds(spec)))  # an accessory in two environments: said once


def nested_binds(spec: AppSpec) -> list[str]:
    """Binds whose host folder lies under another bind's writable host folder, in any service or accessory:
    what a container writes there could turn the inner folder into a symlink to anywhere on the host."""
    found = [(section, name, index, bind) for section, name, _user, _caps, binds in _runners(spec)
             for index, bind in enumerate(binds)]
    problems = []
    for section, name, index, inner in found:
        for o_section, o_name, o_index, outer in found:
            if outer.read_only or (o_section, o_name, o_index) == (section, name, index):
                continue
            if _strictly_under(inner.host, outer.host):
                problems.append(f"{spec.where(section, name, 'binds', index, 'host')}: {section}.{name}.binds[{index}] "
                                f"host folder {inner.host} lies inside {outer.host}, which {o_section}.{o_name} mounts "
                                "writable: a container could replace it with a symlink; bind folders side by side")
    return problems


def name_allowed(host: str, allowed: list[str] | None) -> bool:
    """Whether a served name is one of the allowed names or under an allowed suffix (.shop.example)."""
    if allowed is None:
        return True
    return any(host == a or (a.startswith(".") and host.endswith(a)) for a in allowed)


def under(host: str, folders: list[str]) -> bool:
    path = posixpath.normpath(host)
    return any(path == f.rstrip("/") or path.startswith(f.rstrip("/") + "/") or f == "/" for f in folders)


def _strictly_under(inner: str, outer: str) -> bool:
    inner, outer = posixpath.normpath(inner), posixpath.normpath(outer)
    return inner != outer and (outer == "/" or inner.startswith(outer.rstrip("/") + "/"))


def _runners(spec: AppSpec) -> list[tuple[str, str, str | None, list[str], list[BindSpec]]]:
    """(section, name, user, capabilities, binds) of every service and accessory."""
    return [*(("services", n, s.user, list(s.capabilities), s.binds) for n, s in spec.services.items()),
            *(("accessories", n, a.user, list(a.capabilities), a.binds) for n, a in spec.accessories.items())]


def _shown(value: Any) -> str:
    return "unset" if value in (None, [], {}) else repr(value)
