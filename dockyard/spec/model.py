"""The typed dockyard.yml: what every other part of Dockyard reads instead of raw YAML.

Models only check the shape of each value; references between sections (registries,
tests, services) are checked in checks.py so all problems are reported together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from dockyard.errors import NotFound
from dockyard.spec.accessory import AccessorySpec
from dockyard.spec.alerts import AlertRule
from dockyard.spec.base import BindSpec, BuildSpec, Named, ResourcesSpec, SpecModel, VolumeSpec, distinct_volumes
from dockyard.spec.canary import CanarySpec, WatchSpec
from dockyard.spec.fields import (
    AbsPath,
    AppName,
    Argv,
    Capability,
    ConfigKey,
    Count,
    Duration,
    EnvKey,
    EnvName,
    Hostname,
    NonEmptyText,
    PathPrefix,
    Port,
    PositiveDuration,
    RegistryAddress,
    RegistryName,
    ServiceName,
    ShellArgv,
    TestName,
    Text,
    non_empty,
)
from dockyard.spec.hints import fail, not_found, show
from dockyard.spec.previews import PREVIEW_STRATEGY, PreviewsSpec, preview_name, preview_number
from dockyard.spec.scaling import AlarmSpec, ScalingSpec, StepSpec
from dockyard.spec.strategies import DEFAULT, NAMES, StrategyTraits, traits
from dockyard.spec.tasks import HooksSpec, JobSpec, ReleaseTaskSpec

__all__ = ["AccessorySpec", "AlarmSpec", "AppSpec", "BindSpec", "BuildSpec", "ConfigSpec", "EnvironmentSpec",
           "HealthSpec", "PipelineSpec", "PlacementSpec", "ResourcesSpec", "RouterSpec", "ScalingSpec", "ServiceSpec",
           "SpecModel", "StepSpec", "TestSpec", "VolumeSpec"]



def _strategy(value: str) -> str:
    if value not in NAMES:
        choices = " or ".join([", ".join(map(repr, NAMES[:-1])), repr(NAMES[-1])])
        raise fail(f"must be {choices}, got {show(value)}")
    return value


# One of spec/strategies.py's names: a new strategy is registered there, not here.
Strategy = Annotated[str, AfterValidator(_strategy)]


class HealthSpec(SpecModel):
    # without a path the probe is a TCP connect to the service's port, with these timings; a service
    # without a port is healthy while it runs and does not restart, unless it gives a command
    path: str | None = Field(default=None, description="the HTTP path to probe, e.g. /health")
    # Run inside the container by the engine (Docker's health check), exit 0 is healthy: how a worker
    # says it is alive. In model_dump (so in every config-hash) only when set: the replicas made
    # before this field existed keep their hash.
    command: Argv | None = Field(default=None, description="e.g. [sh, -c, 'test -f /tmp/alive']")
    interval: PositiveDuration = 1.0
    timeout: PositiveDuration = 2.0
    retries: Annotated[Count, Field(ge=1)] = 3
    start_period: Duration = 60.0

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise fail(f"must start with '/', got {value!r}")
        return value

    @model_serializer(mode="wrap")
    def _command_when_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.command is None:
            data.pop("command", None)
        return data

    @model_validator(mode="after")
    def _one_probe(self) -> HealthSpec:
        if self.path is not None and self.command is not None:
            raise fail("give path: (an HTTP GET from outside) or command: (run inside), not both")
        return self


class PlacementSpec(SpecModel):
    """Where a Swarm environment may run a service's tasks (ignored by single-engine environments)."""

    constraints: list[NonEmptyText] = Field(default_factory=list)  # e.g. node.role==worker
    preferences: list[NonEmptyText] = Field(default_factory=list)  # spread over, e.g. node.labels.zone
    max_per_node: Annotated[Count, Field(ge=1)] | None = None


class ServiceSpec(Named):
    command: Argv | None = None
    port: Port | None = None
    health: HealthSpec | None = None
    replicas: Count = 1
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    user: Text | None = None
    env: dict[EnvKey, Text] = Field(default_factory=dict)
    # docker-init as PID 1 forwards SIGTERM to the app (busybox httpd as PID 1 ignores it) and reaps zombies.
    init: bool = True
    stop_grace: Duration = 10.0
    # A read-only root file system (writable /tmp on tmpfs). Left out of model_dump and added to the
    # config-hash only when on, so containers made before this option existed keep their hash.
    read_only: bool = Field(default=False, exclude=True)
    # Swarm only; left out of model_dump so the config-hash of existing containers does not change.
    placement: PlacementSpec | None = Field(default=None, exclude=True)
    # Left out of model_dump too, and added to the config-hash only when there are some.
    volumes: list[VolumeSpec] = Field(default_factory=list, exclude=True)
    binds: list[BindSpec] = Field(default_factory=list, exclude=True)  # likewise
    # Capabilities added to an empty set (every one is dropped): only those the site's policy for the
    # app allows (docs/security.md). Out of model_dump, in the config-hash only when there are some.
    capabilities: list[Capability] = Field(default_factory=list, exclude=True)

    @field_validator("volumes")
    @classmethod
    def _distinct_volumes(cls, value: list[VolumeSpec]) -> list[VolumeSpec]:
        return distinct_volumes(value)

    def writers(self) -> list[VolumeSpec]:
        """Its volumes that one container at a time may write: mounted writable, not shared."""
        return [v for v in self.volumes if not v.read_only and not v.shared]


class ConfigSpec(SpecModel):
    required: list[ConfigKey] = Field(default_factory=list)
    files: dict[AbsPath, NonEmptyText] = Field(default_factory=dict)
    secrets: Literal["file", "env"] = "file"


class TestSpec(Named):
    __test__ = False  # not a pytest test class

    run: ShellArgv = Field(description="the command, e.g. [sh, /app/test.sh]")
    timeout: PositiveDuration = 120.0
    kind: Literal["image", "endpoint"] = "image"

    @model_validator(mode="before")
    @classmethod
    def _default_kind(cls, data: Any) -> Any:
        """A test that reads TARGET_URL is meant to run against a deployed environment."""
        if isinstance(data, dict) and data.get("kind") is None:
            kind = "endpoint" if "TARGET_URL" in str(data.get("run", "")) else "image"
            return {**data, "kind": kind}
        return data


class RouterSpec(SpecModel):
    live: Port = Field(description="the host port that serves the live color, e.g. 8000")
    preview: Port = Field(description="the host port that serves the idle color, e.g. 8001")
    # After a switch the old colour stays up (on the preview port) this long, so a rollback is a switch.
    rollback_window: Duration = 300.0
    # What the standby colour's services without a port (workers, consumers, schedulers) do meanwhile:
    # stop (the default: two versions of a scheduler must not both fire; a rollback starts them
    # again) or keep running beside the live colour's.
    workers: Literal["stop", "keep"] = "stop"

    @field_validator("preview")
    @classmethod
    def _differs(cls, value: int, info: ValidationInfo) -> int:
        if value == info.data.get("live"):
            raise fail(f"must differ from live, both are {value}")
        return value


class EnvironmentSpec(Named):
    engine: NonEmptyText = "local"
    registry: str | None = None
    strategy: Strategy = DEFAULT
    tests: list[str] = Field(default_factory=list)
    promote: Literal["auto", "manual"] = "auto"
    router: RouterSpec | None = None
    scaling: dict[str, ScalingSpec] = Field(default_factory=dict)
    replicas: dict[str, Count] = Field(default_factory=dict)
    # The names the host's edge serves this environment under (the first is its main name), the
    # names that redirect to one of them, and the URL path it is served under.
    domains: list[Hostname] = Field(default_factory=list)
    redirects: dict[Hostname, Hostname] = Field(default_factory=dict)
    path: PathPrefix = "/"
    # HTTPS at the edge: a certificate from the site's ACME CA, a self-signed one (internal names),
    # or the ones the operator installed for these names (dockyard edge cert add); HTTP then
    # redirects to HTTPS. hsts: browsers are told to come back over HTTPS only.
    tls: Literal["off", "acme", "self-signed", "installed"] = "off"
    hsts: bool = False
    # The app's accessories this environment runs (each its own instance); not set: all of them.
    accessories: list[ServiceName] | None = None
    # What a failed post_switch hook does: keep the release live (the deploy fails, saying so) or
    # roll back to the one before.
    on_failure: Literal["keep", "rollback"] = "keep"
    # strategy: canary: its steps, how they are judged, who sees the canary (spec/canary.py)
    canary: CanarySpec | None = None
    # any other strategy: the new live release judged for a while, rolled back on a failure
    watch: WatchSpec | None = None

    @field_validator("domains")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        twice = sorted({d for d in value if value.count(d) > 1})
        if twice:
            raise fail(f"lists {', '.join(twice)} twice")
        return value

    @field_validator("redirects")
    @classmethod
    def _to_own_domains(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        domains = info.data.get("domains") or []
        for source, target in value.items():
            if source in domains:
                raise fail(f"{source} is one of domains: it cannot also redirect")
            if target not in domains:
                raise fail(f"{source} redirects to {target}, which is not in this environment's domains "
                           f"({', '.join(domains) or 'none'})")
        return value

    @model_validator(mode="after")
    def _tls_needs_domains(self) -> EnvironmentSpec:
        if self.tls != "off" and not self.domains:
            raise fail(f"tls: {self.tls} needs domains: the edge serves HTTPS by name")
        if self.hsts and self.tls == "off":
            raise fail("hsts: true needs tls: the header only counts over HTTPS")
        return self

    @property
    def switching(self) -> StrategyTraits:
        """What its strategy is: two colours behind a balancer, or replicas replaced in place."""
        return traits(self.strategy)

    @property
    def names(self) -> list[str]:
        """Every name the edge answers for this environment: its domains, then its redirects."""
        return [*self.domains, *self.redirects]


class PipelineSpec(SpecModel):
    """Which branches run which part of the promotion path; unmatched branches start no run."""

    # branch glob -> environments, in promotion order; an empty list means every environment
    branches: dict[NonEmptyText, list[str]] = Field(default_factory=lambda: {"*": list[str]()})
    supersede: bool = True  # a newer commit on a branch supersedes its older queued runs
    poll: PositiveDuration | None = None  # poll the app's git remote this often (where no hook can go)

    def environments_for(self, branch: str, all_envs: list[str]) -> list[str] | None:
        """The environments a commit on `branch` goes through, or None when no pattern matches."""
        import fnmatch

        for pattern, names in self.branches.items():
            if fnmatch.fnmatchcase(branch, pattern):
                return [e for e in all_envs if e in names] if names else list(all_envs)
        return None


class AppSpec(SpecModel):
    app: AppName = Field(description="the app name, e.g. shop-api")
    build: BuildSpec = Field(default_factory=BuildSpec)
    registries: dict[RegistryName, RegistryAddress] = Field(default_factory=dict)
    services: Annotated[dict[ServiceName, ServiceSpec], non_empty("define at least one service")] = Field(
        description="define at least one service, e.g. web: {port: 8080}"
    )
    accessories: dict[ServiceName, AccessorySpec] = Field(default_factory=dict)
    config: ConfigSpec = Field(default_factory=ConfigSpec)
    tests: dict[TestName, TestSpec] = Field(default_factory=dict)
    release: ReleaseTaskSpec | None = None
    hooks: HooksSpec = Field(default_factory=HooksSpec)
    jobs: list[JobSpec] = Field(default_factory=list)
    pipeline: PipelineSpec = Field(default_factory=PipelineSpec)
    alerts: list[AlertRule] = Field(default_factory=list)
    previews: PreviewsSpec | None = None
    environments: Annotated[dict[EnvName, EnvironmentSpec], non_empty("define at least one environment")] = (
        Field(description="define at least one environment; their order is the promotion path")
    )

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source: str = PrivateAttr(default="dockyard.yml")
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)  # key path -> line, from the loader
    _previews: dict[int, EnvironmentSpec] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: Any) -> Any:
        """Top-level 'x-...' keys are free for YAML anchors to reuse, as in docker-compose."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
        return data

    @model_validator(mode="after")
    def _fill_in(self) -> AppSpec:
        """Copy names into the sections and give environments the first registry by default."""
        for group in (self.services, self.accessories, self.tests, self.environments):
            for name, item in group.items():
                item._name = name
        first = next(iter(self.registries), None)
        for env in self.environments.values():
            if env.registry is None:
                env.registry = first
        return self

    @property
    def base_dir(self) -> Path:
        """The directory of dockyard.yml: relative paths in the spec are relative to it."""
        return self._base_dir

    def resolve(self, relative: str) -> Path:
        """A path written in the spec (build context, template) as a path on this machine."""
        return self._base_dir / relative

    def template_files(self) -> dict[str, Path]:
        """Config files to render: target path in the container -> template on this machine."""
        return {target: self.resolve(template) for target, template in self.config.files.items()}

    def where(self, *loc: Any) -> str:
        """file:line of a key path (or of its nearest parent), for messages about a valid spec."""
        if loc[:1] == ("environments",) and len(loc) > 1 and self.is_preview(str(loc[1])):
            loc = ("previews",)  # a preview's fields are written there
        for end in range(len(loc), -1, -1):
            if loc[:end] in self._lines:
                return f"{self._source}:{self._lines[loc[:end]]}"
        return self._source

    def env_names(self) -> list[str]:
        """Environment names in file order: the promotion path."""
        return list(self.environments)

    def environment(self, name: str) -> EnvironmentSpec:
        """A declared environment, or a pull request's preview (pr-N) where the app has previews."""
        if name in self.environments:
            return self.environments[name]
        number = preview_number(name)
        if number is not None and self.previews is not None:
            return self.preview_environment(number)
        raise NotFound(*not_found("environment", name, self.env_names(), self._source))

    def is_preview(self, name: str) -> bool:
        return name not in self.environments and preview_number(name) is not None and self.previews is not None

    def preview_environment(self, number: int) -> EnvironmentSpec:
        """Preview pr-N: the `from` environment under the preview's own name, without what only a stable
        environment has (fixed host ports, autoscaling, canary steps, a watch, redirects)."""
        assert self.previews is not None
        if number not in self._previews:
            source = self.environments[self.previews.source]
            keeps = source.strategy if not (source.switching.colors or source.switching.canary) else PREVIEW_STRATEGY
            env = source.model_copy(update={
                "strategy": keeps, "router": None, "scaling": {}, "canary": None, "watch": None,
                "domains": [self.previews.domain_of(number)], "redirects": {}, "promote": "manual"})
            env._name = preview_name(number)
            self._previews[number] = env
        return self._previews[number]

    def release_service(self) -> str:
        """The service whose settings the release task runs with."""
        assert self.release is not None
        return self.task_service(self.release.service)

    def task_service(self, named: str | None) -> str:
        """The service whose settings a one-off (release task, hook, job) runs with: the one it names,
        else the first."""
        return named or next(iter(self.services))

    def job(self, name: str) -> JobSpec:
        for job in self.jobs:
            if job.name == name:
                return job
        raise NotFound(*not_found("job", name, [j.name for j in self.jobs], self._source))

    def service(self, name: str) -> ServiceSpec:
        if name not in self.services:
            raise NotFound(*not_found("service", name, list(self.services), self._source))
        return self.services[name]

    def accessories_of(self, env_name: str) -> dict[str, AccessorySpec]:
        """The accessories an environment runs, by name."""
        wanted = self.environment(env_name).accessories
        return {n: a for n, a in self.accessories.items() if wanted is None or n in wanted}

    def accessory(self, env_name: str, name: str) -> AccessorySpec:
        """One accessory the environment runs; an unknown name is refused with the known ones."""
        runs = self.accessories_of(env_name)
        if name not in runs:
            known = list(runs)
            if name in self.accessories:
                raise NotFound(f"environment {env_name!r} does not run accessory {name!r} "
                               f"(its accessories: {', '.join(known) or 'none'})",
                               hint=f"add it to environments.{env_name}.accessories in {self._source}")
            raise NotFound(*not_found("accessory", name, list(self.accessories), self._source))
        return runs[name]

    def next_env(self, name: str) -> str | None:
        """Where a release that passed in `name` is promoted to; None after the last one."""
        self.environment(name)
        names = self.env_names()
        index = names.index(name)
        return names[index + 1] if index + 1 < len(names) else None

    def replicas_for(self, env_name: str, service_name: str) -> int:
        """The environment's override, else the service default; kept inside the scaling range if any."""
        env = self.environment(env_name)
        count = env.replicas.get(service_name, self.service(service_name).replicas)
        scaling = env.scaling.get(service_name)
        if scaling is not None:
            count = max(scaling.min, min(scaling.max, count))
        return count
