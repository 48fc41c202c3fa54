"""Images on an engine: look one up, pull, tag, build and push, in docker-py's calls.

Each function takes docker-py's client and lets its failures through; `Engine`'s verbs
(engine/client.py) translate them. The build and push streams are Docker's JSON lines, read here:
the layers above see a progress line at a time, an image id and a digest.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import docker.errors

from dockyard.engine.facts import ImageFacts, image_facts
from dockyard.errors import BuildError

__all__ = ["TAIL", "build", "follow_stream", "inspect", "pull", "push", "tag"]

Progress = Callable[[str], None]
TAIL = 30  # lines of a failed build's output its error shows


def follow_stream(lines: Iterable[dict[str, Any]], progress: Progress, what: str) -> dict[str, Any]:
    """Follow a build/push JSON stream; raise on its error lines (with the last lines before it:
    the failing step's output); return the last aux object. A build's output comes in pieces that
    may end inside a line (a loud step's `line 1750` came as `l` and `ine 1750`): a line goes to
    `progress` once it is whole."""
    aux: dict[str, Any] = {}
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


def inspect(client: Any, ref: str) -> ImageFacts | None:
    """The image `ref` on the engine; None when it has none."""
    try:
        return image_facts(client.images.get(ref).attrs)
    except docker.errors.ImageNotFound:
        return None


def pull(client: Any, ref: str) -> ImageFacts:
    return image_facts(client.images.pull(ref).attrs)


def tag(client: Any, source: str, repo: str, tag: str) -> None:
    client.api.tag(source, repo, tag)


def build(client: Any, context: Path, dockerfile: str, tag: str, labels: Mapping[str, str],
          args: Mapping[str, str], progress: Progress) -> str:
    """Build `context` as `tag`; the image id ("" when the engine named none). A failed step is a BuildError."""
    stream = client.api.build(path=str(context), dockerfile=dockerfile, tag=tag, labels=dict(labels),
                              buildargs=dict(args), rm=True, forcerm=True, decode=True)
    return str(follow_stream(stream, progress, f"building {tag}").get("ID") or "")


def push(client: Any, repo: str, tag: str, progress: Progress) -> str:
    """Push `repo:tag`; the digest the registry gave ("" when none). A refusal is a BuildError."""
    stream = client.api.push(repo, tag=tag, stream=True, decode=True)
    return str(follow_stream(stream, progress, f"pushing {repo}:{tag}").get("Digest") or "")
