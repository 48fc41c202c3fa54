"""What a backup copies (issue 16): an accessory (its dump, or its volumes) or one volume of a
service, resolved from the app's spec. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.engine import labels as L
from dockyard.errors import BackupError, NotFound
from dockyard.spec import AppSpec
from dockyard.spec.accessory import AccessorySpec


@dataclass(frozen=True)
class Target:
    """What a backup copies: an accessory (its dump, or its volumes) or one volume of a service."""

    name: str  # ACCESSORY or SERVICE/VOLUME
    owner: str  # the accessory or service the volumes belong to
    volumes: dict[str, str]  # short name -> full engine name
    accessory: AccessorySpec | None

    @property
    def kind(self) -> str:
        return "dump" if self.accessory is not None and self.accessory.backup_spec().dump else "volumes"


def resolve_target(spec: AppSpec, env: str, name: str) -> Target:
    if "/" in name:
        service_name, _, volume = name.partition("/")
        service = spec.service(service_name)
        if volume not in {v.name for v in service.volumes}:
            known = ", ".join(f"{service_name}/{v.name}" for v in service.volumes) or "none"
            raise NotFound(f"service {service_name} has no volume {volume!r} (its volumes: {known})")
        return Target(name, service_name, {volume: L.volume_name(spec.app, env, service_name, volume)}, None)
    if name in spec.services:
        raise BackupError(f"{name} is a service: name one of its volumes, SERVICE/VOLUME "
                          f"({', '.join(f'{name}/{v.name}' for v in spec.services[name].volumes) or 'it has none'})")
    accessory = spec.accessory(env, name)
    volumes = {v.name: L.volume_name(spec.app, env, name, v.name) for v in accessory.volumes}
    target = Target(name, name, volumes, accessory)
    if target.kind == "volumes" and not volumes:
        raise BackupError(f"accessory {name} has no volume and no backup.dump: there is nothing to back up")
    return target
