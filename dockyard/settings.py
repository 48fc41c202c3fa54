"""Site settings: where Dockyard keeps its data, which config store it uses, which engines exist.

Settings are per site (operator), never per app: an app's dockyard.yml names an engine
(`local`, `tls-host`, ...) and the operator registers once where it is and its certificates.
File: $DOCKYARD_HOME/settings.yml. Environment overrides: DOCKYARD_CONFIG_STORE.

The file's models live in settings_model.py and load with pydantic only when the whole file is
read (load, save). What nearly every command needs, the config store and the registered engines,
is read from a checked copy: the file's engines and store as they were when pydantic last
validated this very file (same bytes), so a read command answers without pydantic (issue 30).
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import DockyardError, NotFound
from dockyard.settings_base import (
    EDGE_ADDRESS,
    EDGE_HTTP_PORT,
    EDGE_HTTPS_PORT,
    PRIVATE_UMASK,
    BackupSettings,
    EngineSettings,
    home,
    private_dir,
    private_file,
    replace_private,
    write_private,
)

if TYPE_CHECKING:
    from dockyard.settings_model import (
        NOTIFY_EVENTS,
        AppPolicy,
        ChannelSettings,
        EdgeSettings,
        EtcdSettings,
        NotificationSettings,
        RouteSettings,
        ServerSettings,
        Settings,
    )

__all__ = ["NOTIFY_EVENTS", "PRIVATE_UMASK", "AppPolicy", "BackupSettings", "ChannelSettings", "EdgeSettings",
           "EngineSettings", "EtcdSettings", "NotificationSettings", "RouteSettings", "ServerSettings", "Settings",
           "agent_url", "author", "backup_settings", "config_store_url", "default_local_engine", "edge_address",
           "engine", "home", "load", "private_dir", "private_file", "prometheus_url", "replace_private", "save",
           "settings_path", "write_private"]

_MODELS = frozenset({"NOTIFY_EVENTS", "AppPolicy", "ChannelSettings", "EdgeSettings", "EtcdSettings",
                     "NotificationSettings", "RouteSettings", "ServerSettings", "Settings"})


def __getattr__(name: str) -> Any:
    """The file's models (settings_model.py), loaded with pydantic when first asked for."""
    if name in _MODELS:
        from dockyard import settings_model

        return getattr(settings_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    from dockyard.settings_model import read_settings

    path = settings_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        text = ""
    return read_settings(text, path)


def save(settings: Settings) -> None:
    from dockyard.settings_model import dump_settings

    path = settings_path()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)  # it may hold the webhook secret
    with os.fdopen(fd, "w") as fh:
        dump_settings(settings, fh)
    tmp.chmod(0o600)
    tmp.replace(path)


# The checked copy: what read commands need of the file, kept beside it once pydantic validated it.
# Its key is the file's bytes with the source of this module and of the models, so an edit of any
# of them retires it.
CHECKED = ".settings.checked.json"
_CHECKED_HERE: dict[tuple[Path, bytes], dict[str, Any]] = {}  # this process's reads: file and bytes -> value


@functools.cache
def _checker_source() -> bytes:
    """The source of this module and of the models: read once, as it does not change while a process runs."""
    here = Path(__file__)
    return here.read_bytes() + here.with_name("settings_model.py").read_bytes()


def _checked() -> dict[str, Any]:
    """What read commands need of the settings file, as validated: its config store, engines, agent,
    edge address, backup store and notification routes. The file is validated (its problems raised
    as ever) when its checked copy is missing or was made from other bytes."""
    import orjson

    path = settings_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise DockyardError(f"{path}: cannot read the settings file: {exc.strerror}") from exc
    if (path, raw) in _CHECKED_HERE:  # asked again by this process (engines, then the config store ...)
        return dict(_CHECKED_HERE[path, raw])
    key = hashlib.sha256(raw + _checker_source()).hexdigest()
    copy = path.parent / CHECKED
    try:
        kept = orjson.loads(copy.read_bytes())
        if kept.get("key") == key:
            _CHECKED_HERE[path, raw] = kept["value"]
            return dict(kept["value"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # none yet, or unreadable: validate the file again
    site = load()
    value = {"config_store": site.config_store, "engines": {n: asdict(e) for n, e in site.engines.items()},
             "agent_url": site.agent_url, "prometheus_url": site.prometheus_url,
             "edge": site.edge.model_dump(include={"address", "http_port", "https_port"}),
             "backups": asdict(site.backups),
             "notify_routes": [route.model_dump() for route in site.notifications.routes]}
    try:
        replace_private(copy, orjson.dumps({"key": key, "value": value}))
    except OSError:
        pass  # a read-only home: the next command validates again
    _CHECKED_HERE[path, raw] = value
    return dict(value)


def config_store_url(settings: Settings | None = None) -> str:
    """DOCKYARD_CONFIG_STORE, else the settings file, else the embedded SQLite store."""
    env = os.environ.get("DOCKYARD_CONFIG_STORE")
    if env:
        return env
    chosen = settings.config_store if settings is not None else _checked().get("config_store")
    return chosen or f"sqlite:///{home() / 'config.db'}"


def notification_routes() -> list[dict[str, Any]]:
    """The settings file's notification routes (channel, apps, envs, events), as validated."""
    return list(_checked().get("notify_routes", []))


def agent_url() -> str | None:
    """The host agent the settings file names, if any (DOCKYARD_AGENT is the caller's to check first)."""
    return _checked().get("agent_url")


def prometheus_url() -> str | None:
    """The Prometheus a canary's queries are asked: DOCKYARD_PROMETHEUS, else the settings file's."""
    return os.environ.get("DOCKYARD_PROMETHEUS") or _checked().get("prometheus_url")


def edge_address() -> tuple[str, int, int]:
    """Where this host's edge listens: (address, http port, https port)."""
    edge = _checked().get("edge")
    if edge is None:  # no settings file
        return EDGE_ADDRESS, EDGE_HTTP_PORT, EDGE_HTTPS_PORT
    return edge["address"], edge["http_port"], edge["https_port"]


def backup_settings(settings: Settings | None = None) -> BackupSettings:
    """The settings file's, with DOCKYARD_BACKUP_STORE and DOCKYARD_BACKUP_S3_ENDPOINT over them."""
    found = settings.backups if settings is not None else BackupSettings(**_checked().get("backups", {}))
    store = os.environ.get("DOCKYARD_BACKUP_STORE") or found.store or f"file://{home() / 'backups'}"
    endpoint = os.environ.get("DOCKYARD_BACKUP_S3_ENDPOINT") or found.s3_endpoint
    return replace(found, store=store, s3_endpoint=endpoint)


def default_local_engine() -> EngineSettings:
    return EngineSettings(host=os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock")


def engine(name: str, settings: Settings | None = None) -> EngineSettings:
    if settings is not None:
        engines = settings.engines
    else:
        engines = {n: EngineSettings(**fields) for n, fields in _checked().get("engines", {}).items()}
    if name in engines:
        return engines[name]
    if name == "local":
        return default_local_engine()
    known = ", ".join(sorted({"local", *engines})) or "local"
    raise NotFound(
        f"engine {name!r} is not registered (known: {known})",
        hint=f"register it: dockyard engine add {name} --host tcp://HOST:2376 "
        "--tls-ca ca.pem --tls-cert cert.pem --tls-key key.pem",
    )
