"""The engine's failures in Dockyard's words: what was asked, and the useful part of why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from dockyard.errors import EngineError, EngineUnavailable

if TYPE_CHECKING:
    from dockyard.settings import EngineSettings

__all__ = ["Handle", "HostHandle", "engine_error", "short_reason"]


class Handle(Protocol):
    """What the engine's modules need of an Engine: its name, for messages, and docker-py's client."""

    @property
    def name(self) -> str: ...

    @property
    def client(self) -> Any: ...


class HostHandle(Handle, Protocol):
    """An engine with where it runs: what a test's sandbox, which relays on this host, needs."""

    @property
    def config(self) -> EngineSettings: ...

    @property
    def is_local_host(self) -> bool: ...

    def close(self) -> None: ...


def short_reason(exc: BaseException) -> str:
    """The useful last part of a docker/requests error chain, on one line."""
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text[-300:]


def engine_error(action: str, exc: BaseException) -> EngineError:
    """docker-py's failure (requests' under it) as an EngineError; docker-py is loaded already when
    one of its calls failed, so naming its types here costs a read command nothing."""
    import docker.errors
    import requests.exceptions

    if isinstance(exc, (requests.exceptions.ConnectionError, docker.errors.DockerException)) and not isinstance(
        exc, docker.errors.APIError
    ):
        return EngineUnavailable(f"{action}: the engine stopped answering: {short_reason(exc)}")
    if isinstance(exc, docker.errors.APIError):
        return EngineError(f"{action}: {exc.explanation or short_reason(exc)}")
    return EngineError(f"{action}: {short_reason(exc)}")
