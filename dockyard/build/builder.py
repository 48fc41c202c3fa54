"""Build once: the image for a git commit, tagged by its short sha, pushed to the registries.

Promotion later moves the pushed digest; nothing is ever rebuilt per environment.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.build.git import Commit
from dockyard.engine.api import DockerError, ImageMissing
from dockyard.engine.client import Engine, engine_error, short_reason
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


TAIL = 30  # lines of a failed build's output its error shows


def _stream(lines: Iterable[dict], progress: Progress, what: str) -> dict:
    """Follow a build/push JSON stream; raise on its error lines (with the last lines before it:
    the failing step's output); return the last aux object. A build's output comes in pieces that
    may end inside a line (a loud step's `line 1750` came as `l` and `ine 1750`): a line goes to
    `progress` once it is whole."""
    aux: dict = {}
    tail: deque[str] = deque(maxlen=TAIL)
    partial = ""  # the stream's last line, until its end comes

    def show(text: str) -> None:
        text = text.rstrip()
        if text.strip():
            tail.extend(text.splitlines())
            progress(text.strip())

    for line in lines:
        if "error" in line:
            show(partial)
            shown = "\n".join(tail)
            raise BuildError(f"{what}: {line['error'].strip()}"
                             + (f"\n--- the last {len(tail)} lines of its output ---\n{shown}" if tail else ""))
        if "aux" in line:
            aux = line["aux"]
        if line.get("stream"):
            whole, _, partial = (partial + line["stream"]).rpartition("\n")
            show(whole)
        else:
            show(line.get("status") or "")
    show(partial)
    return aux


def existing_image(engine: Engine, app: str, commit: Commit) -> str | None:
    """An image of this exact commit already built on the engine (never reused for a dirty tree)."""
    if commit.dirty:
        return None
    try:
        image = engine.client.images.get(f"{app}:{commit.tag}")
    except ImageMissing:
        return None
    except DockerError as exc:
        raise engine_error("looking up the image", exc) from exc
    if (image.labels or {}).get("dockyard.commit") != commit.sha:
        return None
    return str(image.id)


def build_image(engine: Engine, app: str, context: Path, dockerfile: str, args: dict[str, str],
                commit: Commit, progress: Progress) -> str:
    if not (context / dockerfile).is_file():
        raise BuildError(f"{context / dockerfile}: Dockerfile not found (build.dockerfile in dockyard.yml)")
    try:
        stream = engine.client.api.build(
            path=str(context), dockerfile=dockerfile, tag=f"{app}:{commit.tag}", labels=image_labels(commit),
            buildargs=args, rm=True, forcerm=True, decode=True,
        )
        aux = _stream(stream, progress, f"building {app}:{commit.tag}")
    except DockerError as exc:
        raise engine_error(f"building {app}:{commit.tag}", exc) from exc
    if "ID" not in aux:
        raise BuildError(f"building {app}:{commit.tag}: the engine returned no image id")
    return str(aux["ID"])


def push_image(engine: Engine, app: str, tag: str, registry: str, progress: Progress) -> str:
    """Tag and push to one registry; return `registry/app@sha256:...`."""
    repo = f"{registry}/{app}"
    try:
        engine.client.api.tag(f"{app}:{tag}", repo, tag)
        aux = _stream(engine.client.api.push(repo, tag=tag, stream=True, decode=True), progress,
                      f"pushing {repo}:{tag}")
    except BuildError as exc:
        raise RegistryError(f"registry {registry} refused {app}:{tag}: {exc.message.split(': ', 1)[-1]}",
                            hint=f"check the registry answers: curl http://{registry}/v2/") from exc
    except (*DockerError, EngineError) as exc:
        raise RegistryError(f"pushing {repo}:{tag} failed: {short_reason(exc)}") from exc
    digest = aux.get("Digest")
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
