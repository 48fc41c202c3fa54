"""Registry facts and copies, for moving an already-tested digest between registries."""

from __future__ import annotations

from dockyard.build.builder import push_image
from dockyard.engine.client import short_reason
from dockyard.engine.interface import Engine
from dockyard.errors import EngineError, RegistryError


def split_ref(ref: str) -> tuple[str, str | None]:
    """'127.0.0.1:5000/app@sha256:..' -> ('127.0.0.1:5000/app', 'sha256:..')."""
    repo, _, digest = ref.partition("@")
    return repo, digest or None


def registry_of(repo: str) -> str | None:
    first, _, rest = repo.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else None


def copy_to_registry(engine: Engine, ref: str, tag: str, registry: str, app: str) -> str:
    """Pull `ref` on the engine, tag it `app:tag`, push to `registry`; return the new repo@digest."""
    try:
        image = engine.pull_image(ref)
        engine.tag_image(image.id, app, tag)
    except EngineError as exc:
        raise RegistryError(f"cannot pull {ref} to copy it to {registry}: {short_reason(exc.__cause__ or exc)}"
                            ) from exc
    return push_image(engine, app, tag, registry, progress=lambda _line: None)
