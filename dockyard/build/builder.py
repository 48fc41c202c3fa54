"""Build once: the image for a git commit, tagged by its short sha, pushed to the registries.

Promotion later moves the pushed digest; nothing is ever rebuilt per environment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.build.git import Commit
from dockyard.engine.client import short_reason
from dockyard.engine.interface import Engine
from dockyard.errors import BuildError, EngineError, RegistryError
from dockyard.state.db import Build, StateDB

Progress = Callable[[str], None]


@dataclass
class BuildResult:
    app: str
    commit: Commit
    tag: str
    image_id: str
    reused: bool
    digests: dict[str, str] = field(default_factory=dict)  # registry host -> repo@digest

    def ref_for(self, registry: str | None) -> str:
        return self.digests[registry] if registry else f"{self.app}:{self.tag}"


def image_labels(commit: Commit) -> dict[str, str]:
    return {
        "dockyard.commit": commit.sha,
        "dockyard.branch": commit.branch or "",
        "dockyard.dirty": "true" if commit.dirty else "false",
        "dockyard.built-at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "org.opencontainers.image.revision": commit.sha,
    }


def existing_image(engine: Engine, app: str, commit: Commit) -> str | None:
    """An image of this exact commit already built on the engine (never reused for a dirty tree)."""
    if commit.dirty:
        return None
    image = engine.inspect_image(f"{app}:{commit.tag}")
    if image is None or image.commit != commit.sha:
        return None
    return image.id


def build_image(engine: Engine, app: str, context: Path, dockerfile: str, args: dict[str, str],
                commit: Commit, progress: Progress) -> str:
    if not (context / dockerfile).is_file():
        raise BuildError(f"{context / dockerfile}: Dockerfile not found (build.dockerfile in dockyard.yml)")
    image_id = engine.build_image(context, dockerfile, f"{app}:{commit.tag}", image_labels(commit), args, progress)
    if not image_id:
        raise BuildError(f"building {app}:{commit.tag}: the engine returned no image id")
    return image_id


def push_image(engine: Engine, app: str, tag: str, registry: str, progress: Progress) -> str:
    """Tag and push to one registry; return `registry/app@sha256:...`."""
    repo = f"{registry}/{app}"
    try:
        digest = engine.push_image(f"{app}:{tag}", repo, tag, progress)
    except BuildError as exc:
        raise RegistryError(f"registry {registry} refused {app}:{tag}: {exc.message.split(': ', 1)[-1]}",
                            hint=f"check the registry answers: curl http://{registry}/v2/") from exc
    except EngineError as exc:
        raise RegistryError(f"pushing {repo}:{tag} failed: {short_reason(exc.__cause__ or exc)}") from exc
    if not digest:
        raise RegistryError(f"registry {registry} did not return a digest for {repo}:{tag}")
    return f"{repo}@{digest}"


def build_and_push(engine: Engine, db: StateDB, app: str, context: Path, dockerfile: str,
                   args: dict[str, str], commit: Commit, registries: list[str], progress: Progress,
                   force: bool = False) -> BuildResult:
    image_id = None if force else existing_image(engine, app, commit)
    reused = image_id is not None
    if image_id is None:
        image_id = build_image(engine, app, context, dockerfile, args, commit, progress)
        db.record_build(Build(app, commit.sha, commit.tag, image_id, commit.branch, commit.dirty, time.time()))
    result = BuildResult(app=app, commit=commit, tag=commit.tag, image_id=image_id, reused=reused)
    # Always push: it is cheap when the registry has the layers, and repairs a registry that lost them.
    for registry in registries:
        ref = push_image(engine, app, commit.tag, registry, progress)
        repo, digest = ref.split("@", 1)
        db.record_push(app, commit.tag, registry, repo, digest)
        result.digests[registry] = ref
    return result
