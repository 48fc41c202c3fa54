"""What read commands know of dockyard.yml (its app, environments, services), without pydantic.

A read command (`ps`, `releases`, `logs ENV` ...) needs a few names of the spec, not its models:
importing pydantic and building the models costs more than the rest of such a command. So the
spec is validated in full once per content, and what reads need is kept in a brief beside
Dockyard's home, under a key made of the file's bytes, its folder and the spec package's own
files: an edited spec, a spec moved elsewhere or an upgraded Dockyard is validated again, with
its problems said as ever (file:line), before any brief of it is believed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import NotFound
from dockyard.spec.hints import not_found
from dockyard.vocabulary import preview_name, preview_number

if TYPE_CHECKING:
    from dockyard.spec.model import AppSpec, HealthSpec

__all__ = ["EnvBrief", "HealthBrief", "RouterBrief", "SpecBrief", "brief_of", "kept_brief", "load_and_keep",
           "probe_label", "read_brief", "routed_name"]

SPEC_FILE = "dockyard.yml"  # loader.SPEC_FILE, which this module cannot import without pydantic
BRIEFS = 64  # briefs kept (one per spec file); the oldest go first


def probe_label(spec: HealthSpec | None, port: int | None) -> str:
    """How a replica's health is judged, kept on it as a label: http:PATH, tcp, command or running."""
    if spec is not None and spec.command is not None:
        return "command"
    if port is None:
        return "running"
    return f"http:{spec.path}" if spec is not None and spec.path else "tcp"


def routed_name(ports: Mapping[str, int | None]) -> str | None:
    """The service the edge and a balancer send traffic to: the first one with a port."""
    return next((name for name, port in ports.items() if port), None)


@dataclass(frozen=True)
class RouterBrief:
    live: int  # the balancer's host ports
    preview: int
    rollback_window: float  # seconds
    workers: str = "stop"  # a standby colour's workers: stop or keep


@dataclass(frozen=True)
class HealthBrief:
    """A service's `health:`, as a switch back waits on it (seconds)."""

    path: str | None
    interval: float
    timeout: float
    start_period: float
    command: bool  # the engine runs a health command inside the replica


@dataclass(frozen=True)
class EnvBrief:
    engine: str
    strategy: str
    promote: str  # auto | manual
    tests: list[str]
    accessories: list[str]  # the accessories it runs
    colors: bool  # two colours behind a balancer (its strategy's trait)
    router: RouterBrief | None  # that balancer (router: in dockyard.yml)


@dataclass(frozen=True)
class SpecBrief:
    app: str
    source: str  # the file's name as the user gave it, for messages
    environments: dict[str, EnvBrief]  # in the file's order (the promotion path)
    ports: dict[str, int | None]  # service -> its port, in the file's order
    probes: dict[str, str]  # service -> probe_label
    health: dict[str, HealthBrief | None] = field(default_factory=dict)  # service -> its health: section
    grace: dict[str, float] = field(default_factory=dict)  # service -> its stop_grace (seconds)
    preview: EnvBrief | None = None  # what every pull request's preview (pr-N) is, where the app has previews

    def env_names(self) -> list[str]:
        return list(self.environments)

    def environment(self, name: str) -> EnvBrief:
        """An environment the spec defines, or a preview's (NotFound otherwise, as AppSpec says it)."""
        if name in self.environments:
            return self.environments[name]
        if self.preview is not None and preview_number(name) is not None:
            return self.preview
        raise NotFound(*not_found("environment", name, self.env_names(), self.source))

    def engine(self, env: str) -> str:
        return self.environment(env).engine

    def check_service(self, name: str) -> None:
        if name not in self.ports:
            raise NotFound(*not_found("service", name, list(self.ports), self.source))

    def accessories_of(self, env: str) -> list[str]:
        return self.environment(env).accessories

    @property
    def routed(self) -> str | None:
        return routed_name(self.ports)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SpecBrief:
        def env(fields: dict[str, Any]) -> EnvBrief:
            return EnvBrief(**{**fields, "router": RouterBrief(**fields["router"]) if fields["router"] else None})

        envs = {name: env(fields) for name, fields in data.pop("environments").items()}
        health = {name: HealthBrief(**fields) if fields else None for name, fields in data.pop("health").items()}
        preview = data.pop("preview", None)
        return cls(environments=envs, health=health, preview=env(preview) if preview else None, **data)


def brief_of(spec: AppSpec) -> SpecBrief:
    """Pure: the brief of a validated spec."""
    def env_brief(n: str) -> EnvBrief:
        e = spec.environment(n)
        return EnvBrief(engine=e.engine, strategy=e.strategy, promote=e.promote, tests=list(e.tests),
                        accessories=list(spec.accessories_of(n)), colors=e.switching.colors,
                        router=RouterBrief(e.router.live, e.router.preview, e.router.rollback_window, e.router.workers)
                        if e.router is not None else None)

    return SpecBrief(
        app=spec.app, source=spec._source,
        environments={n: env_brief(n) for n in spec.environments},
        preview=env_brief(preview_name(1)) if spec.previews is not None else None,
        ports={n: s.port for n, s in spec.services.items()},
        probes={n: probe_label(s.health, s.port) for n, s in spec.services.items()},
        health={n: HealthBrief(s.health.path, s.health.interval, s.health.timeout, s.health.start_period,
                               s.health.command is not None) if s.health is not None else None
                for n, s in spec.services.items()},
        grace={n: s.stop_grace for n, s in spec.services.items()})


def read_brief(path: Path) -> SpecBrief:
    """The brief of the spec at `path` (a file, or a folder holding dockyard.yml): kept from an
    earlier read of the same bytes, else made by validating the file in full (SpecError as ever)."""
    file = path / SPEC_FILE if path.is_dir() else path
    try:
        raw = file.read_bytes()
    except OSError:
        raw = None  # not there, or unreadable: the full read says so, with its own words
    if raw is not None:
        found = _kept(_kept_at(file), _key(raw, file))
        if found is not None:
            return found
    from dockyard.spec.loader import load_spec

    brief = brief_of(load_spec(path))  # raises SpecError with file:line
    if raw is not None:
        _keep(file, raw, brief)
    return brief


def load_and_keep(path: Path) -> AppSpec:
    """The whole spec, validated (SpecError as ever), its brief kept on the way: a read or a
    rollback after a deploy finds it without validating the file again."""
    from dockyard.spec.loader import load_spec

    file = path / SPEC_FILE if path.is_dir() else path
    try:
        raw: bytes | None = file.read_bytes()  # before the validation: the brief is of these bytes
    except OSError:
        raw = None
    spec = load_spec(path)
    if raw is not None:
        _keep(file, raw, brief_of(spec))
    return spec


def _keep(file: Path, raw: bytes, brief: SpecBrief) -> None:
    import orjson

    from dockyard.settings_base import private_dir, replace_private

    kept_at = _kept_at(file)
    try:
        private_dir(kept_at.parent)
        replace_private(kept_at, orjson.dumps({"key": _key(raw, file), "brief": brief.as_json()}))
        _prune(kept_at.parent)
    except OSError:
        pass  # a read-only home: the next read validates again


def kept_brief(path: Path) -> SpecBrief | None:
    """The brief an earlier read kept of the spec at `path` as its bytes are now; None when there
    is none (never validated, edited since, unreadable): nothing is validated here."""
    file = path / SPEC_FILE if path.is_dir() else path
    try:
        raw = file.read_bytes()
    except OSError:
        return None
    return _kept(_kept_at(file), _key(raw, file))


def _kept_at(file: Path) -> Path:
    from dockyard.settings_base import home

    return home() / "briefs" / (hashlib.sha256(str(file.absolute()).encode()).hexdigest()[:32] + ".json")


def _kept(kept_at: Path, key: str) -> SpecBrief | None:
    import orjson

    try:
        kept = orjson.loads(kept_at.read_bytes())
        if kept.get("key") == key:
            return SpecBrief.from_json(kept["brief"])
    except (OSError, ValueError, TypeError, KeyError):
        pass  # none yet, unreadable or of another shape
    return None


def _key(raw: bytes, file: Path) -> str:
    """The file's bytes and folder (templates are checked relative to it), and the spec package's
    files: what the validation and this brief depend on."""
    digest = hashlib.sha256(raw)
    digest.update(str(file.absolute().parent).encode())
    here = Path(__file__).parent
    for entry in sorted(os.scandir(here), key=lambda e: e.name):
        if entry.name.endswith(".py"):
            info = entry.stat()
            digest.update(f"{entry.name}:{info.st_size}:{info.st_mtime_ns};".encode())
    return digest.hexdigest()


def _prune(folder: Path) -> None:
    found = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
    for old in found[:-BRIEFS]:
        old.unlink(missing_ok=True)
