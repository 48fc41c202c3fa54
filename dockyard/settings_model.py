"""The site's settings file ($DOCKYARD_HOME/settings.yml) as validated models: read by
settings.load(), written by settings.save().

Apart from dockyard/settings.py so that a command which only needs Dockyard's home, a file helper
or a registered engine does not import pydantic (issue 30): an engine's settings are a plain
dataclass, which settings.engine() can make from the checked copy of the file.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import IO, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML, YAMLError

from dockyard.errors import DockyardError
from dockyard.settings_base import EDGE_ADDRESS, EDGE_HTTP_PORT, EDGE_HTTPS_PORT, BackupSettings, EngineSettings


class EtcdSettings(BaseModel):
    """A site etcd with TLS, client certificates and a user whose role covers Dockyard's prefix."""

    model_config = ConfigDict(extra="forbid")

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    user: str | None = None
    password_file: str | None = None  # 0600; the password never sits in settings.yml itself


class EdgeSettings(BaseModel):
    """Where this host's edge listens (dockyard edge configure): this host only until the operator
    says otherwise; every address is a choice, not a default."""

    model_config = ConfigDict(extra="forbid")

    address: str = EDGE_ADDRESS
    http_port: int = EDGE_HTTP_PORT
    https_port: int = EDGE_HTTPS_PORT
    # ACME (tls: acme): the CA's directory, a contact, a CA bundle to trust it by (a test CA), and
    # how long before its expiry a certificate is renewed
    acme_directory: str = "https://acme-v02.api.letsencrypt.org/directory"
    acme_email: str | None = None
    acme_ca_bundle: str | None = None
    renew_before_s: float = 30 * 86400.0


NOTIFY_EVENTS = ("run.failed", "run.waiting", "run.succeeded", "deployed", "rolled_back", "alert.firing",
                 "alert.resolved", "scaled", "hook.succeeded", "hook.failed", "job.failed",
                 "rollout.aborted")


class ChannelSettings(BaseModel):
    """Where notifications go: a generic webhook (JSON, HMAC-SHA256 signed with the key in
    `secret_file`), a Slack-compatible incoming webhook, or e-mail over SMTP."""

    model_config = ConfigDict(populate_by_name=True)
    type: Literal["webhook", "slack", "email"]
    url: str | None = None  # webhook, slack
    secret_file: str | None = None  # webhook: the HMAC key, in a 0600 file (never in settings.yml)
    smtp: str | None = None  # email: HOST:PORT
    sender: str | None = Field(default=None, alias="from")
    to: list[str] = []
    starttls: bool = False
    username: str | None = None
    password_file: str | None = None  # 0600; the password never sits in settings.yml itself

    @model_validator(mode="after")
    def _complete(self) -> ChannelSettings:
        if self.type in ("webhook", "slack"):
            if not self.url or urlsplit(self.url).scheme not in ("http", "https") or not urlsplit(self.url).netloc:
                raise ValueError(f"a {self.type} channel needs url: http(s)://HOST/PATH, got {self.url!r}")
        else:
            host, _, port = (self.smtp or "").rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"an email channel needs smtp: HOST:PORT, got {self.smtp!r}")
            if not self.sender or not self.to:
                raise ValueError("an email channel needs from: and to: [addresses]")
        return self


class RouteSettings(BaseModel):
    """Which events go to a channel: each list matches anything with "*"."""

    channel: str
    apps: list[str] = ["*"]
    envs: list[str] = ["*"]
    events: list[str] = ["*"]


class NotificationSettings(BaseModel):
    channels: dict[str, ChannelSettings] = {}
    routes: list[RouteSettings] = []

    @model_validator(mode="after")
    def _known(self) -> NotificationSettings:
        for n, route in enumerate(self.routes):
            if route.channel not in self.channels:
                raise ValueError(f"routes[{n}]: no channel {route.channel!r} (channels: {', '.join(self.channels)})")
            unknown = [e for e in route.events if e != "*" and e not in NOTIFY_EVENTS]
            if unknown:
                raise ValueError(f"routes[{n}]: unknown events {unknown} (known: {', '.join(NOTIFY_EVENTS)})")
        return self


class AppPolicy(BaseModel):
    """What an app's commits may choose of placement and privilege (docs/security.md): set by an admin
    (`dockyard app policy APP ...`), never by a commit. An unset bound (None) leaves that choice to the
    default branch's dockyard.yml; privilege (root, capabilities) is refused unless granted here."""

    model_config = ConfigDict(extra="forbid")

    engines: dict[str, list[str]] | None = None  # environment (or "*") -> the engines it may use
    domains: list[str] | None = None  # names it may serve: shop.example, or a suffix .shop.example
    binds: list[str] | None = None  # host folders its binds must lie under (besides the engine's allow-list)
    allow_root: bool = False  # user: 0 / root
    capabilities: list[str] = []  # capabilities its services and accessories may add (NET_BIND_SERVICE)
    host_ports: list[str] | None = None  # host ports it may publish: "8000" or "8000-8099"
    images: list[str] | None = None  # accessories' image references must start with one of these
    fork_secrets: bool = False  # a preview of a pull request from a fork gets the secrets of `previews.from`

    @field_validator("domains", "binds", "images")
    @classmethod
    def _non_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not item.strip() for item in value):
            raise ValueError("an empty entry")
        return value

    @field_validator("host_ports")
    @classmethod
    def _ports(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            low, _, high = item.partition("-")
            if not (low.isdigit() and (not high or high.isdigit())) or not 1 <= int(low) <= int(high or low) <= 65535:
                raise ValueError(f"{item!r} is not a port or a range of ports (8000 or 8000-8099)")
        return value

    def port_allowed(self, port: int) -> bool:
        if self.host_ports is None:
            return True
        for item in self.host_ports:
            low, _, high = item.partition("-")
            if int(low) <= port <= int(high or low):
                return True
        return False


class ServerSettings(BaseModel):
    """What `dockyard server` trusts and how much it keeps (issue 28)."""

    model_config = ConfigDict(extra="forbid")

    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks);
    # none by default, so no client can choose the source address the audit log records
    trusted_proxies: list[str] = []
    webhook_retention_days: float = Field(default=30.0, gt=0)  # webhook deliveries kept this long
    login_failures: int = Field(default=5, ge=1)  # failed log-ins per source and window, then 429
    login_window_s: float = Field(default=60.0, gt=0)
    sessions_per_token: int = Field(default=10, ge=1)  # the oldest session of a token ends past this

    @model_validator(mode="after")
    def _addresses(self) -> ServerSettings:
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as exc:
                raise ValueError(f"trusted_proxies: {proxy!r} is not an IP address or network") from exc
        return self


class CommitStatusSettings(BaseModel):
    """Where a preview's state is reported for one provider (issue 33), in GitHub's statuses shape:
    POST {state, target_url, description, context} to `url` with {repo}, {sha}, {number} and
    {project_id} filled in, `Authorization: Bearer <token>` when a token is set."""

    model_config = ConfigDict(extra="forbid")

    url: str
    token: str = ""
    context: str = "dockyard/preview"

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or "{sha}" not in value:
            raise ValueError(f"{value!r}: an http(s) URL with {{sha}} in it, e.g. "
                             "https://api.github.com/repos/{repo}/statuses/{sha}")
        return value


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config_store: str | None = None
    etcd: EtcdSettings | None = None  # how to reach an etcd config store that requires TLS and a user
    engines: dict[str, EngineSettings] = {}
    webhook_secret: str | None = None  # for `dockyard server` webhooks; DOCKYARD_WEBHOOK_SECRET overrides
    # a secret per app and provider ({shop: {github: ...}}): one leaked secret then starts one app's runs
    webhook_secrets: dict[str, dict[str, str]] = {}
    agent_url: str | None = None  # the host agent the autoscaler reads; DOCKYARD_AGENT overrides
    # the Prometheus a canary's `queries:` are asked (the site's, never a commit's); DOCKYARD_PROMETHEUS overrides
    prometheus_url: str | None = None
    commit_status: dict[Literal["github", "gitlab", "gitea"], CommitStatusSettings] = {}  # per provider
    four_eyes: bool = True  # who started a run by hand cannot approve its gates ...
    four_eyes_envs: dict[str, bool] = {}  # ... unless turned off (or on) for the gate's environment
    max_body_kib: int = 1024  # request bodies above this get 413 before they are read
    edge: EdgeSettings = EdgeSettings()
    backups: BackupSettings = BackupSettings()
    notifications: NotificationSettings = NotificationSettings()
    server: ServerSettings = ServerSettings()
    policies: dict[str, AppPolicy] = {}  # per app: the bounds of what its commits may choose

    def policy(self, app: str) -> AppPolicy:
        """The app's bounds; an app without one gets the default (no root, no added capability)."""
        return self.policies.get(app, AppPolicy())

    def needs_four_eyes(self, env: str) -> bool:
        return self.four_eyes_envs.get(env, self.four_eyes)


def read_settings(text: str, path: Path) -> Settings:
    """The settings file's text (empty: none) as Settings; its problems said with the file's name."""
    try:
        data = YAML(typ="safe").load(text) or {}
        return Settings.model_validate(data)
    except YAMLError as exc:
        raise DockyardError(f"{path}: invalid settings file: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors())
        raise DockyardError(f"{path}: invalid settings: {problems}") from exc


def dump_settings(settings: Settings, out: IO[str]) -> None:
    YAML().dump(settings.model_dump(exclude_none=True), out)
