"""Connect to a Docker engine by its site name (`local`, `tls-host`, ...).

The one place docker-py clients are made, so connection errors become EngineUnavailable
with the engine's name and what to check, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import docker
import docker.errors
import docker.tls
import requests.exceptions

from dockyard import settings
from dockyard.engine.facts import ImageFacts, image_facts
from dockyard.errors import EngineError, EngineUnavailable, RegistryError
from dockyard.settings import EngineSettings

# Engine 20.10's API; later engines still serve it, so requests behave the same everywhere.
API_VERSION = "1.41"


@dataclass
class Engine:
    name: str
    config: EngineSettings
    client: docker.DockerClient

    @property
    def is_local_host(self) -> bool:
        """True when the engine runs on this machine (its bind mounts see our files)."""
        url = urlparse(self.config.host)
        return url.scheme in ("unix", "npipe") or url.hostname in ("127.0.0.1", "localhost", "::1")

    def close(self) -> None:
        self.client.close()

    # Dockyard's verbs. The layers above call these and read engine/facts.py's dataclasses; only
    # engine/ touches `client` (docker-py) and Docker's JSON (tests/unit/test_layers.py).

    # -- replicas, images and services: what a deploy does ----------------------------------------
    def remove_replica(self, container_id: str, what: str) -> None:
        """Remove a container at once (killed if it runs); `what` names the caller's step in an error."""
        try:
            self.client.containers.get(container_id).remove(force=True)
        except (docker.errors.DockerException, requests.exceptions.ConnectionError) as exc:
            raise engine_error(what, exc) from exc

    def rename_replica(self, container_id: str, name: str, what: str) -> None:
        try:
            self.client.containers.get(container_id).rename(name)
        except (docker.errors.DockerException, requests.exceptions.ConnectionError) as exc:
            raise engine_error(what, exc) from exc

    def ensure_image(self, ref: str) -> ImageFacts:
        """The image as this engine has it, pulled from its registry when absent."""
        try:
            return image_facts(self.client.images.get(ref).attrs)
        except docker.errors.ImageNotFound:
            pass
        except (docker.errors.DockerException, requests.exceptions.ConnectionError) as exc:
            raise engine_error(f"looking up {ref}", exc) from exc
        try:
            return image_facts(self.client.images.pull(ref).attrs)
        except (docker.errors.DockerException, requests.exceptions.ConnectionError) as exc:
            raise RegistryError(f"engine {self.name!r} cannot pull {ref}: {short_reason(exc)}",
                                hint="was it built and pushed? dockyard build") from exc


    # -- builds, registries, nodes and the monitor's reads ----------------------------------------


def tls_config(cfg: EngineSettings) -> docker.tls.TLSConfig | None:
    if not (cfg.tls_ca or cfg.tls_cert):
        return None
    cert = (cfg.tls_cert, cfg.tls_key) if cfg.tls_cert and cfg.tls_key else None
    return docker.tls.TLSConfig(client_cert=cert, ca_cert=cfg.tls_ca, verify=cfg.tls_ca or True)


def connect(name: str, site: settings.Settings | None = None, timeout: int = 60) -> Engine:
    cfg = settings.engine(name, site)
    try:
        client = docker.DockerClient(base_url=cfg.host, tls=tls_config(cfg) or False, timeout=timeout,
                                     version=API_VERSION)
        # The engine's own CA must be used, not REQUESTS_CA_BUNDLE or a proxy from the environment.
        client.api.trust_env = False
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise EngineUnavailable(
            f"engine {name!r} at {cfg.host} is not reachable: {short_reason(exc)}",
            hint="check that dockerd runs there (dockyard doctor) and, for tcp://, the TLS certificates",
        ) from exc
    return Engine(name=name, config=cfg, client=client)


def short_reason(exc: BaseException) -> str:
    """The useful last part of a docker/requests error chain, on one line."""
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text[-300:]


def engine_error(action: str, exc: BaseException) -> EngineError:
    if isinstance(exc, (requests.exceptions.ConnectionError, docker.errors.DockerException)) and not isinstance(
        exc, docker.errors.APIError
    ):
        return EngineUnavailable(f"{action}: the engine stopped answering: {short_reason(exc)}")
    if isinstance(exc, docker.errors.APIError):
        return EngineError(f"{action}: {exc.explanation or short_reason(exc)}")
    return EngineError(f"{action}: {short_reason(exc)}")
