"""Bind mounts of host folders (issue 16), only under the folders the site allows for the engine
(`dockyard engine add NAME ... --allow-bind /srv/shop`): a commit's dockyard.yml cannot mount
the host's /etc or Docker's socket into a container."""

from __future__ import annotations

import os

from dockyard.errors import DeployError
from dockyard.settings import EngineSettings
from dockyard.spec import AppSpec
from dockyard.spec.model import BindSpec


def allowed(host: str, folders: list[str], resolve: bool) -> bool:
    """Whether `host` is one of the folders or under one. On this machine symlinks are followed
    first: a link under an allowed folder must not lead out of it."""
    path = os.path.realpath(host) if resolve else os.path.normpath(host)
    return any(path == f or path.startswith(f.rstrip("/") + "/") or f == "/" for f in folders)


def check_binds(spec: AppSpec, env: str, engine_name: str, engine: EngineSettings, local: bool,
                accessories: list[str] | None = None) -> None:
    """Every bind of the services (or of the named accessories) is allowed on this engine; the first
    that is not is refused with its file:line, before anything starts."""
    owners: list[tuple[str, str, list[BindSpec]]] = [("services", n, s.binds) for n, s in spec.services.items()]
    if accessories is not None:
        owners = [("accessories", n, spec.accessories[n].binds) for n in accessories]
    folders = [f.rstrip("/") or "/" for f in engine.bind_paths]
    for section, name, binds in owners:
        for index, bind in enumerate(binds):
            if engine.swarm:
                raise DeployError(f"{spec.where(section, name, 'binds', index)}: {spec.app}/{env}: binds are not "
                                  "supported on a Swarm engine (a task may run on any node)")
            if local and os.path.realpath(bind.host) != os.path.normpath(bind.host):
                raise DeployError(
                    f"{spec.where(section, name, 'binds', index, 'host')}: {section}.{name}.binds[{index}]: host "
                    f"folder {bind.host} goes through a symlink (to {os.path.realpath(bind.host)}): a bind's "
                    "folder is named as it is, so nothing written later can redirect it")
            if not allowed(bind.host, folders, resolve=local):
                raise DeployError(
                    f"{spec.where(section, name, 'binds', index, 'host')}: {section}.{name}.binds[{index}]: host "
                    f"folder {bind.host} is not one engine {engine_name!r} allows (allowed: "
                    f"{', '.join(folders) or 'none'})",
                    hint=f"an operator allows it: dockyard engine add {engine_name} --host {engine.host} "
                         f"--allow-bind FOLDER (repeat the engine's other options)")
