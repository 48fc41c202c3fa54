"""Site settings: where Dockyard keeps its data, which config store it uses, which engines exist.

Settings are per site (operator), never per app: an app's dockyard.yml names an engine
(`local`, `tls-host`, ...) and the operator registers once where it is and its certificates.
File: $DOCKYARD_HOME/settings.yml. Environment overrides: DOCKYARD_CONFIG_STORE.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML, YAMLError

from dockyard.errors import DockyardError, NotFound


class EngineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str  # unix:///var/run/docker.sock or tcp://HOST:2376
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    swarm: bool = False  # a Swarm manager: environments on it deploy Swarm services (dockyard/swarm)
    publish_network: str | None = None  # swarm-scoped bridge network whose per-node config sets the bind IP
    # Host folders an app's dockyard.yml may bind-mount (binds:), with everything under them; none by default
    bind_paths: list[str] = []


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

    address: str = "127.0.0.1"
    http_port: int = 80
    https_port: int = 443
    # ACME (tls: acme): the CA's directory, a contact, a CA bundle to trust it by (a test CA), and
    # how long before its expiry a certificate is renewed
    acme_directory: str = "https://acme-v02.api.letsencrypt.org/directory"
    acme_email: str | None = None
    acme_ca_bundle: str | None = None
    renew_before_s: float = 30 * 86400.0


class BackupSettings(BaseModel):
    """Where backups are kept (dockyard backup store): a folder (file:///var/backups/dockyard) or
    an S3-compatible bucket (s3://BUCKET/PREFIX at `s3_endpoint`, or AWS's own without one). The
    bucket's keys are read from `s3_credentials_file` (0600, `access_key_id=...` and
    `secret_access_key=...` lines), else from boto3's own chain (AWS_* variables, ~/.aws): never
    from this file, argv or dockyard.yml."""

    model_config = ConfigDict(extra="forbid")

    store: str | None = None  # default: file://$DOCKYARD_HOME/backups
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    s3_credentials_file: str | None = None


NOTIFY_EVENTS = ("run.failed", "run.waiting", "run.succeeded", "deployed", "rolled_back", "alert.firing",
                 "alert.resolved", "scaled")


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


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config_store: str | None = None
    etcd: EtcdSettings | None = None  # how to reach an etcd config store that requires TLS and a user
    engines: dict[str, EngineSettings] = {}
    webhook_secret: str | None = None  # for `dockyard server` webhooks; DOCKYARD_WEBHOOK_SECRET overrides
    # a secret per app and provider ({shop: {github: ...}}): one leaked secret then starts one app's runs
    webhook_secrets: dict[str, dict[str, str]] = {}
    agent_url: str | None = None  # the host agent the autoscaler reads; DOCKYARD_AGENT overrides
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


def home() -> Path:
    """Dockyard's home, 0700: it holds the state, the config store and the settings (secrets)."""
    raw = os.environ.get("DOCKYARD_HOME") or "~/.local/share/dockyard"
    path = Path(raw).expanduser()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
            path.chmod(0o700)
    except OSError:
        pass  # not ours to change: the files inside are still made 0600
    return path


PRIVATE_UMASK = 0o077  # for programs that write under DOCKYARD_HOME themselves (git, nginx, HAProxy)


def private_dir(path: Path) -> Path:
    """`path` and every missing folder above it made 0700 (mkdir's `mode` applies to the last one
    only); an existing one of ours that others can read is tightened, as older versions left them."""
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass  # made by another process meanwhile
    try:
        info = path.stat()
        if info.st_mode & 0o077 and info.st_uid == os.getuid():
            path.chmod(0o700)
    except OSError:
        pass
    return path


def write_private(path: Path, text: str) -> None:
    """Write a small file 0600 from its first byte (pid files, markers, configurations)."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT
        fh.write(text)


def replace_private(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all (a temp file, fsync, rename), 0600 from its creation: what a
    reader must never see half-written (a certificate's key, the edge's routes)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def private_file(path: Path) -> None:
    """Create `path` (if missing) as 0600 before a library opens it, and tighten an existing one:
    SQLite makes its -wal and -shm files with the database file's mode. An existing file is never
    opened here: closing a second descriptor of a SQLite file drops this process's locks on it."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # the open that follows reports a real problem with its own message
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError:
        pass


def author() -> str:
    """Who releases and config changes are recorded as: DOCKYARD_USER, else the login name.
    (The audit log records the OS user beside it: dockyard/state/audit.py.)"""
    import getpass

    try:
        return os.environ.get("DOCKYARD_USER") or getpass.getuser()
    except (OSError, KeyError):  # no login name (e.g. a container with an unknown uid)
        return "unknown"


def settings_path() -> Path:
    return home() / "settings.yml"


def load() -> Settings:
    path = settings_path()
    if not path.exists():
        return Settings()
    try:
        data = YAML(typ="safe").load(path.read_text()) or {}
        return Settings.model_validate(data)
    except YAMLError as exc:
        raise DockyardError(f"{path}: invalid settings file: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors())
        raise DockyardError(f"{path}: invalid settings: {problems}") from exc


def save(settings: Settings) -> None:
    path = settings_path()
    tmp = path.with_suffix(".tmp")
    yaml = YAML()
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)  # it may hold the webhook secret
    with os.fdopen(fd, "w") as fh:
        yaml.dump(settings.model_dump(exclude_none=True), fh)
    tmp.chmod(0o600)
    tmp.replace(path)


def config_store_url(settings: Settings | None = None) -> str:
    """DOCKYARD_CONFIG_STORE, else the settings file, else the embedded SQLite store."""
    env = os.environ.get("DOCKYARD_CONFIG_STORE")
    if env:
        return env
    settings = settings or load()
    return settings.config_store or f"sqlite:///{home() / 'config.db'}"


def backup_settings(settings: Settings | None = None) -> BackupSettings:
    """The settings file's, with DOCKYARD_BACKUP_STORE and DOCKYARD_BACKUP_S3_ENDPOINT over them."""
    found = (settings or load()).backups
    store = os.environ.get("DOCKYARD_BACKUP_STORE") or found.store or f"file://{home() / 'backups'}"
    endpoint = os.environ.get("DOCKYARD_BACKUP_S3_ENDPOINT") or found.s3_endpoint
    return found.model_copy(update={"store": store, "s3_endpoint": endpoint})


def default_local_engine() -> EngineSettings:
    return EngineSettings(host=os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock")


def engine(name: str, settings: Settings | None = None) -> EngineSettings:
    settings = settings or load()
    if name in settings.engines:
        return settings.engines[name]
    if name == "local":
        return default_local_engine()
    known = ", ".join(sorted({"local", *settings.engines})) or "local"
    raise NotFound(
        f"engine {name!r} is not registered (known: {known})",
        hint=f"register it: dockyard engine add {name} --host tcp://HOST:2376 "
        "--tls-ca ca.pem --tls-cert cert.pem --tls-key key.pem",
    )
