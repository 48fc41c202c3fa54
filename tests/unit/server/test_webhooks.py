from __future__ import annotations

import pytest

from dockyard.server.webhooks import (
    BadPayload,
    BadSignature,
    Push,
    event_name,
    is_push,
    match_apps,
    normalize_repo,
    parse_push,
    verify,
)
from tests.unit.server.payloads import body_of, gitea_push, github_push, gitlab_push, signed_headers

SECRET = "s3cret-hook"
SHA = "bffeb74224043ba2feb48d137756c8a9331c449a"


def github_body() -> bytes:
    return body_of(github_push("https://github.com/acme/shop.git", "git@github.com:acme/shop.git", "acme/shop",
                               "main", SHA))


@pytest.mark.parametrize("provider", ["github", "gitlab", "gitea"])
def test_a_correctly_signed_request_passes(provider: str) -> None:
    body = github_body()
    verify(provider, SECRET, signed_headers(provider, SECRET, body), body)


@pytest.mark.parametrize("provider", ["github", "gitlab", "gitea"])
def test_a_wrong_secret_or_a_changed_body_fails(provider: str) -> None:
    body = github_body()
    with pytest.raises(BadSignature, match=f"wrong {provider} webhook signature"):
        verify(provider, SECRET, signed_headers(provider, "other", body), body)
    if provider != "gitlab":  # GitLab's token does not cover the body
        with pytest.raises(BadSignature):
            verify(provider, SECRET, signed_headers(provider, SECRET, body), body + b" ")


def test_missing_headers_and_a_server_without_secret_fail() -> None:
    body = github_body()
    with pytest.raises(BadSignature, match="missing X-Hub-Signature-256 header"):
        verify("github", SECRET, {"X-GitHub-Event": "push"}, body)
    with pytest.raises(BadSignature, match="missing X-Gitlab-Token header"):
        verify("gitlab", SECRET, {}, body)
    with pytest.raises(BadSignature, match="missing X-Gitea-Signature header"):
        verify("gitea", SECRET, {}, body)
    with pytest.raises(BadSignature, match="no webhook secret"):
        verify("github", "", signed_headers("github", "", body), body)


def test_headers_are_case_insensitive_and_github_wants_the_prefix() -> None:
    body = github_body()
    headers = {k.lower(): v for k, v in signed_headers("github", SECRET, body).items()}
    verify("github", SECRET, headers, body)
    bare = {"X-Hub-Signature-256": headers["x-hub-signature-256"].removeprefix("sha256=")}
    with pytest.raises(BadSignature):
        verify("github", SECRET, bare, body)


def test_events() -> None:
    assert event_name("github", {"x-github-event": "ping"}) == "ping"
    assert event_name("gitea", {"X-GitHub-Event": "push"}) == "push"
    assert is_push("gitlab", "Push Hook") and not is_push("gitlab", "Tag Push Hook")
    assert is_push("github", "push") and not is_push("github", "ping")


def test_parse_github_push() -> None:
    assert parse_push("github", github_body()) == Push(
        urls=("https://github.com/acme/shop.git", "git@github.com:acme/shop.git", "git://github.com/acme/shop.git",
              "https://github.com/acme/shop"),
        names=("acme/shop", "shop"), branch="main", commit=SHA)


def test_parse_gitlab_push() -> None:
    payload = gitlab_push("http://gitlab.example.invalid/team/shop.git", "git@gitlab.example.invalid:team/shop.git",
                          "team/shop", "release/1.2", SHA)
    assert parse_push("gitlab", body_of(payload)) == Push(
        urls=("http://gitlab.example.invalid/team/shop.git", "git@gitlab.example.invalid:team/shop.git"),
        names=("team/shop", "shop"), branch="release/1.2", commit=SHA)


def test_parse_gitea_push() -> None:
    payload = gitea_push("http://gitea.example.invalid/team/shop.git", "git@gitea.example.invalid:team/shop.git",
                         "team/shop", "develop", SHA)
    assert parse_push("gitea", body_of(payload)) == Push(
        urls=("http://gitea.example.invalid/team/shop.git", "git@gitea.example.invalid:team/shop.git",
              "http://gitea.example.invalid/team/shop"),
        names=("team/shop", "shop"), branch="develop", commit=SHA)


def test_tags_and_deletions_are_recognised() -> None:
    payload = github_push("https://github.com/acme/shop.git", "", "acme/shop", "main", "0" * 40)
    payload["deleted"] = True
    assert parse_push("github", body_of(payload)).deleted
    payload = github_push("https://github.com/acme/shop.git", "", "acme/shop", "main", SHA)
    payload["ref"] = "refs/tags/v1.0"
    assert parse_push("github", body_of(payload)).branch == ""


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "the body is not JSON"),
    (b"[1, 2]", "the body is not a JSON object"),
    (b'{"after": "' + SHA.encode() + b'", "repository": {"name": "x"}}', "the payload has no 'ref'"),
    (b'{"ref": "refs/heads/main", "after": "HEAD", "repository": {"name": "x"}}', "no commit in 'after'"),
    (b'{"ref": "refs/heads/main", "after": "' + SHA.encode() + b'"}', "the payload has no repository"),
])
def test_malformed_bodies(body: bytes, message: str) -> None:
    with pytest.raises(BadPayload, match=message):
        parse_push("github", body)


@pytest.mark.parametrize(("url", "normal"), [
    ("https://user@GitHub.com/acme/shop.git", "github.com/acme/shop"),
    ("ssh://git@github.com:22/acme/shop.git", "github.com/acme/shop"),
    ("git@github.com:acme/shop.git", "github.com/acme/shop"),
    ("git://github.com/acme/shop", "github.com/acme/shop"),
    ("file:///srv/git/shop.git", "/srv/git/shop"),
    ("/srv/git/shop.git/", "/srv/git/shop"),
])
def test_normalize_repo(url: str, normal: str) -> None:
    assert normalize_repo(url) == normal


def test_match_apps_by_url_then_full_name_then_unique_name() -> None:
    push = parse_push("github", github_body())
    apps = [("shop", "git@github.com:acme/shop.git"), ("shop-worker", "https://github.com/acme/shop"),
            ("other", "/srv/git/other.git")]
    assert match_apps(push, apps) == ["shop", "shop-worker"]
    assert match_apps(push, [("mirror", "ssh://git@git.internal/acme/shop.git")]) == ["mirror"]
    assert match_apps(push, [("local", "/srv/git/shop.git")]) == ["local"]
    assert match_apps(push, [("a", "/srv/a/shop.git"), ("b", "/srv/b/shop.git")]) == []  # ambiguous
    assert match_apps(push, [("other", "/srv/git/other.git")]) == []
    # another host's repository of the same bare name is another repository (issue 12, finding 8)
    assert match_apps(push, [("theirs", "https://gitlab.example/other-team/shop.git")]) == []
