"""The base of every dockyard.yml section (unknown keys are errors, an empty value is the default)
and the sections that services and accessories share."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from dockyard.spec.fields import AbsPath, EnvKey, NonEmptyText, Size, Text, VolumeName
from dockyard.spec.hints import fail


class SpecModel(BaseModel):
    """Unknown keys are errors (typos must not pass silently); an empty value means 'not set'."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_default(cls, data: Any) -> Any:
        if data is None:  # 'web:' with nothing under it: all defaults
            return {}
        if isinstance(data, dict):
            optional = {name for name, field in cls.model_fields.items() if not field.is_required()}
            return {k: v for k, v in data.items() if not (v is None and k in optional)}
        return data


class Named(SpecModel):
    """Sections keyed by name in the YAML; the name is copied in so callers can pass one object."""

    _name: str = PrivateAttr(default="")

    @property
    def name(self) -> str:
        return self._name


class BuildSpec(SpecModel):
    context: NonEmptyText = "."
    dockerfile: NonEmptyText = "Dockerfile"
    args: dict[EnvKey, Text] = Field(default_factory=dict)


class ResourcesSpec(SpecModel):
    cpus: Annotated[float, Field(gt=0)] | None = None
    memory: Size | None = None


class VolumeSpec(SpecModel):
    """A named volume of the engine, kept across deploys, rollbacks, switches and scaling; only
    `dockyard down ENV --purge` removes it."""

    name: VolumeName = Field(description="the volume's name in this service, e.g. data")
    path: AbsPath = Field(description="where it is mounted in the container, e.g. /var/lib/app")
    read_only: bool = False
    # several containers write it at once (replicas, both colours of blue-green): the app allows that
    shared: bool = False


def distinct_volumes(value: list[VolumeSpec]) -> list[VolumeSpec]:
    """No two volumes of one container share a name or a path."""
    for what in ("name", "path"):
        seen = [getattr(v, what) for v in value]
        twice = sorted({x for x in seen if seen.count(x) > 1})
        if twice:
            raise fail(f"two volumes with the {what} {', '.join(twice)}")
    return value


class BindSpec(SpecModel):
    """A folder of the engine's host mounted into the container: only under a path the site allows
    for that engine (dockyard engine add --allow-bind), checked at each deploy."""

    host: AbsPath = Field(description="the folder on the engine's host, e.g. /srv/shop/uploads")
    path: AbsPath = Field(description="where it is mounted in the container, e.g. /uploads")
    read_only: bool = False

    @field_validator("host")
    @classmethod
    def _plain(cls, value: str) -> str:
        if ".." in value.split("/"):
            raise fail(f"must not go up with '..', got {value!r}")
        return value
