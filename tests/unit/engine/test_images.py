"""The image verbs of Engine on a small stand-in for docker-py's client: what they return, and the
messages a failure gives (the ones build/ gave when it called docker-py itself)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker.errors
import pytest
import requests.exceptions

from dockyard.build.builder import existing_image, push_image
from dockyard.build.git import Commit
from dockyard.build.registry import copy_to_registry
from dockyard.engine.client import DockerEngine
from dockyard.errors import EngineError, EngineUnavailable, RegistryError
from dockyard.settings import EngineSettings


class Image:
    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs = attrs


class Images:
    def __init__(self) -> None:
        self.items: dict[str, Image] = {}
        self.pull_error: Exception | None = None

    def get(self, ref: str) -> Image:
        if ref not in self.items:
            raise docker.errors.ImageNotFound(f"no such image: {ref}")
        return self.items[ref]

    def pull(self, ref: str) -> Image:
        if self.pull_error:
            raise self.pull_error
        return self.items[ref]


class API:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.push_lines: list[dict[str, Any]] = []
        self.push_error: Exception | None = None

    def tag(self, source: str, repo: str, tag: str) -> None:
        self.calls.append(("tag", source, repo, tag))

    def push(self, repo: str, tag: str, stream: bool, decode: bool) -> Iterator[dict[str, Any]]:
        self.calls.append(("push", repo, tag))
        if self.push_error:
            raise self.push_error
        return iter(self.push_lines)


class Client:
    def __init__(self) -> None:
        self.images = Images()
        self.api = API()


def engine() -> tuple[DockerEngine, Client]:
    client = Client()
    return DockerEngine(name="local", config=EngineSettings(host="unix:///nowhere"), client=client), client


COMMIT = Commit(sha="a" * 40, branch="main", dirty=False, diff_hash=None)  # tagged aaaaaaa


def test_an_image_of_the_commit_is_reused_and_another_is_not() -> None:
    eng, client = engine()
    assert existing_image(eng, "shop", COMMIT) is None  # none at all
    client.images.items["shop:aaaaaaa"] = Image({"Id": "sha256:1", "Config": {"Labels": {"dockyard.commit": "b" * 40}}})
    assert existing_image(eng, "shop", COMMIT) is None  # the tag of another commit
    client.images.items["shop:aaaaaaa"] = Image({"Id": "sha256:2", "Config": {"Labels": {"dockyard.commit": "a" * 40}}})
    assert existing_image(eng, "shop", COMMIT) == "sha256:2"


def test_a_push_tags_then_pushes_and_returns_the_registrys_digest() -> None:
    eng, client = engine()
    client.api.push_lines = [{"status": "Pushed"}, {"aux": {"Tag": "aaaaaaa", "Digest": "sha256:d"}}]
    shown: list[str] = []
    assert push_image(eng, "shop", "aaaaaaa", "127.0.0.1:5000", shown.append) == "127.0.0.1:5000/shop@sha256:d"
    assert client.api.calls == [("tag", "shop:aaaaaaa", "127.0.0.1:5000/shop", "aaaaaaa"),
                                ("push", "127.0.0.1:5000/shop", "aaaaaaa")]
    assert shown == ["Pushed"]


def test_push_failures_say_what_they_said_before() -> None:
    eng, client = engine()
    client.api.push_lines = [{"error": "unauthorized: authentication required"}]
    with pytest.raises(RegistryError) as refused:
        push_image(eng, "shop", "aaaaaaa", "127.0.0.1:5000", lambda _: None)
    assert refused.value.message == ("registry 127.0.0.1:5000 refused shop:aaaaaaa: "
                                     "unauthorized: authentication required")
    client.api.push_error = requests.exceptions.ConnectionError("Connection refused")
    with pytest.raises(RegistryError) as down:
        push_image(eng, "shop", "aaaaaaa", "127.0.0.1:5000", lambda _: None)
    assert down.value.message == "pushing 127.0.0.1:5000/shop:aaaaaaa failed: Connection refused"
    client.api.push_lines = [{"status": "Pushed"}]
    client.api.push_error = None
    with pytest.raises(RegistryError, match="did not return a digest"):
        push_image(eng, "shop", "aaaaaaa", "127.0.0.1:5000", lambda _: None)


def test_a_copy_that_cannot_pull_says_why() -> None:
    eng, client = engine()
    client.images.pull_error = docker.errors.NotFound("pull access denied for x")
    with pytest.raises(RegistryError) as caught:
        copy_to_registry(eng, "127.0.0.1:5000/shop@sha256:d", "aaaaaaa", "127.0.0.1:5001", "shop")
    assert caught.value.message == ("cannot pull 127.0.0.1:5000/shop@sha256:d to copy it to 127.0.0.1:5001: "
                                    "pull access denied for x")


def test_the_verbs_turn_the_engines_failures_into_engine_errors() -> None:
    eng, client = engine()
    client.images.pull_error = docker.errors.APIError("boom", explanation="manifest unknown")
    with pytest.raises(EngineError, match=r"^pulling x:1: manifest unknown$"):
        eng.pull_image("x:1")
    client.images.pull_error = requests.exceptions.ConnectionError("gone")
    with pytest.raises(EngineUnavailable, match="the engine stopped answering"):
        eng.pull_image("x:1")
