"""Open a configuration store from its URL: the SQLite store (the default) or etcd.

Apart from store.py, so the store's shared vocabulary imports neither backend and the backends
import it, one way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dockyard import settings
from dockyard.config.sqlite_store import SqliteStore
from dockyard.config.store import ConfigStore
from dockyard.errors import DockyardError

if TYPE_CHECKING:
    from dockyard.settings_model import EtcdSettings

_URL_FORMS = "sqlite:///ABSOLUTE/PATH.db or etcd://HOST:PORT[/PREFIX]"


def open_store(url: str, etcd: EtcdSettings | None = None) -> ConfigStore:
    """Open a store from `sqlite:///abs/path.db` or `etcd://host:port[/prefix]`; `etcd` (the site's
    EtcdSettings) adds TLS with a client certificate and a user."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite" and not parts.netloc and parts.path.startswith("/") and len(parts.path) > 1:
        # sqlite:///abs and sqlite:////abs (SQLAlchemy's absolute form) both mean /abs
        return SqliteStore("/" + parts.path.lstrip("/"))
    if parts.scheme == "etcd" and parts.hostname:
        try:
            port = parts.port or 2379
        except ValueError:
            port = -1
        if port > 0:
            # etcd3gw costs ~165 ms of imports: only a site on etcd pays for it
            from dockyard.config.etcd_store import EtcdStore, access_from

            prefix = parts.path.strip("/")
            return EtcdStore(parts.hostname, port, prefix=f"/{prefix}/" if prefix else "/dockyard/",
                             access=access_from(etcd))
    raise DockyardError(
        f"unsupported config store URL {url!r}: use {_URL_FORMS}",
        hint="set it with DOCKYARD_CONFIG_STORE or config_store in settings.yml",
    )


def open_default_store() -> ConfigStore:
    url = settings.config_store_url()
    # the etcd section (TLS, user) matters to an etcd store only; the SQLite one needs no settings read
    return open_store(url, settings.load().etcd if urlsplit(url).scheme == "etcd" else None)
