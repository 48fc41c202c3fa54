"""A preview's state on its commit (issue 33): GitHub's statuses shape, the site's URL per provider
filled in, and a receiver that is down retried a few times without failing what it reports on."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from dockyard.errors import DockyardError
from dockyard.pipeline import commit_status
from dockyard.pipeline.commit_status import DESCRIPTION_MAX, CommitStatus, report, status_url
from dockyard.settings_model import CommitStatusSettings, read_settings

SHA = "bffeb74224043ba2feb48d137756c8a9331c449a"
GITHUB_URL = "https://api.github.example.invalid/repos/{repo}/statuses/{sha}"
GITLAB_URL = "https://gitlab.example.invalid/api/v4/projects/{project_id}/statuses/{sha}?ref=refs/merge-requests/{number}/head"
PENDING = CommitStatus("pending", "building preview pr-7", "https://shop.example.invalid/runs/12")


class Poster:
    """Answers each POST with the next code (or raises it), and records what it was sent."""

    def __init__(self, *answers: int | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    def __call__(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> int:
        self.calls.append((url, body, headers))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(commit_status, "time", SimpleNamespace(sleep=slept.append))  # its only use of time
    return slept


def site(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.yml").write_text(text)


GITHUB_SITE = f"""\
commit_status:
  github: {{url: "{GITHUB_URL}", token: ghp-s3cret}}
  gitlab: {{url: "{GITLAB_URL}", context: dockyard/pr}}
"""


def test_the_body_is_github_s_statuses_shape() -> None:
    assert PENDING.body("dockyard/preview") == {
        "state": "pending", "description": "building preview pr-7", "context": "dockyard/preview",
        "target_url": "https://shop.example.invalid/runs/12"}
    assert CommitStatus("success", "preview pr-7 is ready").body("ci") == \
        {"state": "success", "description": "preview pr-7 is ready", "context": "ci"}  # no target_url: left out


def test_a_long_description_is_cut_to_140_characters() -> None:
    exact = "x" * DESCRIPTION_MAX
    assert CommitStatus("error", exact).body("c")["description"] == exact
    cut = CommitStatus("error", "no preview: " + "y" * 200).body("c")["description"]
    assert cut == "no preview: " + "y" * 127 + "…"
    assert len(cut) == DESCRIPTION_MAX == 140


def test_the_url_is_filled_in() -> None:
    github = CommitStatusSettings(url=GITHUB_URL)
    assert status_url(github, "acme/shop", SHA, 7, "") == \
        f"https://api.github.example.invalid/repos/acme/shop/statuses/{SHA}"
    gitlab = CommitStatusSettings(url=GITLAB_URL)
    assert status_url(gitlab, "team/shop", SHA, 3, "15") == \
        f"https://gitlab.example.invalid/api/v4/projects/15/statuses/{SHA}?ref=refs/merge-requests/3/head"
    assert (github.token, github.context) == ("", "dockyard/preview")


def test_a_url_must_be_http_and_name_the_commit(tmp_path: Path) -> None:
    path = tmp_path / "settings.yml"
    with pytest.raises(DockyardError, match=r"commit_status\.github\.url: .*an http\(s\) URL with \{sha\} in it"):
        read_settings('commit_status: {github: {url: "https://api.github.example.invalid/repos/{repo}/statuses"}}',
                      path)
    with pytest.raises(DockyardError, match=r"commit_status\.gitlab\.url: 'ftp://x.invalid/\{sha\}'"):
        read_settings('commit_status: {gitlab: {url: "ftp://x.invalid/{sha}"}}', path)
    with pytest.raises(DockyardError, match="invalid settings: commit_status.bitbucket"):
        read_settings('commit_status: {bitbucket: {url: "https://x.invalid/{sha}"}}', path)
    assert read_settings(GITHUB_SITE, path).commit_status == {
        "github": CommitStatusSettings(url=GITHUB_URL, token="ghp-s3cret"),
        "gitlab": CommitStatusSettings(url=GITLAB_URL, context="dockyard/pr")}


def test_no_setting_sends_nothing(dockyard_env: Path, sleeps: list[float]) -> None:
    poster = Poster()
    assert report("github", "acme/shop", SHA, 7, "", PENDING, post=poster) is False  # no settings.yml
    site(dockyard_env, 'commit_status:\n  gitea: {url: "https://gitea.example.invalid/api/v1/repos/{repo}/statuses/'
                       '{sha}"}\n')
    assert report("github", "acme/shop", SHA, 7, "", PENDING, post=poster) is False  # only gitea's
    assert poster.calls == [] and sleeps == []


def test_a_status_is_sent_with_the_token(dockyard_env: Path, sleeps: list[float]) -> None:
    site(dockyard_env, GITHUB_SITE)
    poster = Poster(201)
    assert report("github", "acme/shop", SHA, 7, "", PENDING, post=poster) is True
    assert poster.calls == [(
        f"https://api.github.example.invalid/repos/acme/shop/statuses/{SHA}",
        {"state": "pending", "description": "building preview pr-7", "context": "dockyard/preview",
         "target_url": "https://shop.example.invalid/runs/12"},
        {"Accept": "application/json", "User-Agent": "dockyard", "Authorization": "Bearer ghp-s3cret"})]
    assert sleeps == []


def test_without_a_token_no_authorization_and_the_site_s_context(dockyard_env: Path) -> None:
    site(dockyard_env, GITHUB_SITE)
    poster = Poster(200)
    assert report("gitlab", "team/shop", SHA, 3, "15", CommitStatus("success", "preview pr-3 is ready"), post=poster)
    assert poster.calls == [(
        f"https://gitlab.example.invalid/api/v4/projects/15/statuses/{SHA}?ref=refs/merge-requests/3/head",
        {"state": "success", "description": "preview pr-3 is ready", "context": "dockyard/pr"},
        {"Accept": "application/json", "User-Agent": "dockyard"})]


def test_a_server_error_is_retried_then_given_up(dockyard_env: Path, sleeps: list[float]) -> None:
    site(dockyard_env, GITHUB_SITE)
    poster = Poster(500, 502, 503)
    assert report("github", "acme/shop", SHA, 7, "", PENDING, post=poster) is False
    assert len(poster.calls) == commit_status.ATTEMPTS == 3
    assert all(call == poster.calls[0] for call in poster.calls)  # the same status each time
    assert sleeps[:2] == [0.5, 1.0]


def test_a_retry_can_succeed(dockyard_env: Path, sleeps: list[float]) -> None:
    site(dockyard_env, GITHUB_SITE)
    poster = Poster(httpx.ConnectError("connection refused"), 503, 201)
    assert report("github", "acme/shop", SHA, 7, "", PENDING, post=poster) is True
    assert len(poster.calls) == 3 and sleeps == [0.5, 1.0]


def test_a_refusal_is_not_retried(dockyard_env: Path, sleeps: list[float]) -> None:
    site(dockyard_env, GITHUB_SITE)
    for code in (422, 401, 404):
        poster = Poster(code)
        assert report("github", "acme/shop", SHA, 7, "", PENDING, post=poster) is False
        assert len(poster.calls) == 1
    assert sleeps == []
