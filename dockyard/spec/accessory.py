"""Accessories in dockyard.yml (issue 16): the long-running single-instance services an app needs
beside it (a database, a cache), one per environment, never restarted by a deploy of the app."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from dockyard.spec.base import BindSpec, BuildSpec, Named, ResourcesSpec, SpecModel, VolumeSpec, distinct_volumes
from dockyard.spec.fields import (
    Argv,
    Capability,
    ConfigKey,
    Count,
    Duration,
    EnvKey,
    NonEmptyText,
    Port,
    PositiveDuration,
    Text,
)
from dockyard.spec.hints import fail

# `${accessories.db.host}` in a value of the app's configuration or a service's env: resolved at deploy.
ACCESSORY_REF = re.compile(r"\$\{accessories\.([^.}]*)\.([^.}]*)\}")
REF_FIELDS = ("host", "port", "address")


class AccessoryHealthSpec(SpecModel):
    """A command run inside the accessory's container (Docker's health check): exit 0 is healthy."""

    cmd: Argv = Field(description="the check, e.g. [redis-cli, ping]")
    interval: PositiveDuration = 2.0
    timeout: PositiveDuration = 2.0
    retries: Annotated[Count, Field(ge=1)] = 3
    start_period: Duration = 30.0


class KeepSpec(SpecModel):
    """Which backups retention keeps: the newest `last`, and the newest of each of the last `daily`
    days and `weekly` ISO weeks that have one (as restic's forget does); the rest are deleted."""

    last: Annotated[Count, Field(ge=1)] = 7
    daily: Count = 7
    weekly: Count = 4


class BackupSpec(SpecModel):
    """How an accessory is backed up: `dump` runs in its container and writes a consistent copy to
    stdout (pg_dump, redis-cli --rdb); `restore` runs in a one-off container of its image with its
    volumes mounted, the dump at $DOCKYARD_DUMP, while the accessory is stopped. Without them its
    volumes are copied with it paused. `every`: the server takes one this often."""

    dump: Argv | None = None
    restore: Argv | None = None
    keep: KeepSpec = Field(default_factory=KeepSpec)
    every: PositiveDuration | None = None

    @model_validator(mode="after")
    def _both(self) -> BackupSpec:
        if (self.dump is None) != (self.restore is None):
            raise fail("dump and restore go together: a dump is only a backup if it can be restored")
        return self


class AccessorySpec(Named):
    # A registry reference, or built by Dockyard from the app's repository like the app.
    image: NonEmptyText | None = None
    build: BuildSpec | None = None
    command: Argv | None = None
    port: Port | None = None  # where it listens on the environment's network: ${accessories.NAME.port}
    publish: Port | None = None  # also on this 127.0.0.1 host port; only when asked
    env: dict[EnvKey, Text] = Field(default_factory=dict)
    # Keys of the environment's configuration it reads: plain ones as env vars, secrets as files
    # in /run/secrets (never in its env, where `docker inspect` shows them).
    config: list[ConfigKey] = Field(default_factory=list)
    volumes: list[VolumeSpec] = Field(default_factory=list)
    binds: list[BindSpec] = Field(default_factory=list)  # host folders, where the site allows them
    health: AccessoryHealthSpec | None = None
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    user: Text | None = None
    capabilities: list[Capability] = Field(default_factory=list)  # added to none: the site's policy allows them
    stop_grace: Duration = 30.0  # a database flushes before it stops
    backup: BackupSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_image(cls, data: Any) -> Any:
        if isinstance(data, dict) and (data.get("image") is None) == (data.get("build") is None):
            raise fail("needs either image: (a registry reference) or build: {context, dockerfile}, not both")
        return data

    @model_validator(mode="after")
    def _publish_needs_port(self) -> AccessorySpec:
        if self.publish is not None and self.port is None:
            raise fail(f"publish: {self.publish} needs port: (the port it listens on inside, e.g. 6379)")
        return self

    @field_validator("volumes")
    @classmethod
    def _distinct_volumes(cls, value: list[VolumeSpec]) -> list[VolumeSpec]:
        return distinct_volumes(value)

    def address(self) -> dict[str, str]:
        """What `${accessories.NAME.FIELD}` stands for: the stable name on the environment's network."""
        port = "" if self.port is None else str(self.port)
        return {"host": self.name, "port": port, "address": f"{self.name}:{port}" if port else self.name}

    def backup_spec(self) -> BackupSpec:
        return self.backup or BackupSpec()


def accessory_refs(text: str) -> list[tuple[str, str]]:
    """The (accessory, field) pairs a value refers to."""
    return ACCESSORY_REF.findall(text)


def substitute_refs(text: str, addresses: dict[str, dict[str, str]]) -> str:
    """The value with each reference replaced; a reference to an unknown accessory or field raises
    ValueError with what was wrong (the caller says where)."""

    def one(match: re.Match[str]) -> str:
        name, field = match.group(1), match.group(2)
        if name not in addresses:
            known = ", ".join(sorted(addresses)) or "none"
            raise ValueError(f"${{accessories.{name}.{field}}}: no accessory {name!r} runs in this environment "
                             f"(its accessories: {known})")
        if field not in REF_FIELDS:
            raise ValueError(f"${{accessories.{name}.{field}}}: an accessory has {', '.join(REF_FIELDS)}")
        value = addresses[name][field]
        if not value:
            raise ValueError(f"${{accessories.{name}.{field}}}: accessory {name} sets no port")
        return value

    return ACCESSORY_REF.sub(one, text)
