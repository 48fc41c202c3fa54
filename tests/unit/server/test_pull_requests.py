"""Pull request webhooks (issue 33): each provider's payload becomes a PullRequest (its move, commit,
the ref that holds it, fork or not), and names its base repository as a push does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dockyard.server.pull_requests import PullRequest, is_pull_request, parse_pull_request
from dockyard.server.webhooks import BadPayload, event_name, match_apps

HEAD = "bffeb74224043ba2feb48d137756c8a9331c449a"
BASE_SHA = "28e1879d029cb852e4844d9c718537df08844e03"
OLDREV = "9c2d4f6a1b3e5d7c8f0a2b4c6d8e0f1a3b5c7d9e"


def github_repo(full_name: str, host: str = "github.com") -> dict[str, Any]:
    owner, name = full_name.split("/")
    return {"id": 17892893 if full_name == "acme/shop" else 51234567, "node_id": "R_kgDO", "name": name,
            "full_name": full_name, "private": False, "owner": {"login": owner, "id": 1}, "html_url": f"https://{host}/{full_name}",
            "url": f"https://api.{host}/repos/{full_name}", "git_url": f"git://{host}/{full_name}.git",
            "ssh_url": f"git@{host}:{full_name}.git", "clone_url": f"https://{host}/{full_name}.git",
            "default_branch": "main", "fork": False}


def github_pull(action: str, number: int = 7, head_repo: str = "acme/shop", base_repo: str = "acme/shop",
                merged: bool = False, host: str = "github.com") -> dict[str, Any]:
    pull = {
        "url": f"https://api.{host}/repos/{base_repo}/pulls/{number}", "id": 1785409921, "number": number,
        "state": "closed" if action == "closed" else "open", "locked": False, "title": "Add a basket",
        "user": {"login": "dev", "id": 2}, "body": "", "created_at": "2026-12-01T09:00:00Z",
        "updated_at": "2026-12-01T10:00:00Z", "closed_at": None, "merged_at": None, "merge_commit_sha": None,
        "draft": False, "merged": merged,
        "head": {"label": f"{head_repo.split('/')[0]}:basket", "ref": "basket", "sha": HEAD,
                 "user": {"login": head_repo.split("/")[0]}, "repo": github_repo(head_repo, host)},
        "base": {"label": f"{base_repo.split('/')[0]}:main", "ref": "main", "sha": BASE_SHA,
                 "user": {"login": base_repo.split("/")[0]}, "repo": github_repo(base_repo, host)},
    }
    return {"action": action, "number": number, "pull_request": pull, "repository": github_repo(base_repo, host),
            "sender": {"login": "dev", "id": 2}}


def gitea_pull(action: str, number: int = 4, head_repo: str = "team/shop",
               base_repo: str = "team/shop") -> dict[str, Any]:
    host = "gitea.example.invalid"

    def repo(full_name: str) -> dict[str, Any]:
        owner, name = full_name.split("/")
        return {"id": 140 if full_name == "team/shop" else 141, "owner": {"id": 1, "login": owner},
                "name": name, "full_name": full_name, "private": False, "fork": full_name != "team/shop",
                "html_url": f"http://{host}/{full_name}", "ssh_url": f"git@{host}:{full_name}.git",
                "clone_url": f"http://{host}/{full_name}.git", "default_branch": "main"}

    pull = {"id": 12, "url": f"http://{host}/{base_repo}/pulls/{number}", "number": number, "title": "basket",
            "state": "open", "merged": False, "updated_at": "2026-12-01T10:05:00+01:00",
            "head": {"label": "basket", "ref": "basket", "sha": HEAD, "repo_id": repo(head_repo)["id"],
                     "repo": repo(head_repo)},
            "base": {"label": "main", "ref": "main", "sha": BASE_SHA, "repo_id": 140, "repo": repo(base_repo)}}
    return {"action": action, "number": number, "pull_request": pull, "repository": repo(base_repo),
            "sender": {"id": 1, "login": "dev"}}


def gitlab_merge_request(action: str, iid: int = 3, source_project_id: int = 15,
                         oldrev: str | None = None) -> dict[str, Any]:
    host = "gitlab.example.invalid"
    project = {"id": 15, "name": "shop", "description": "", "web_url": f"http://{host}/team/shop",
               "git_ssh_url": f"git@{host}:team/shop.git", "git_http_url": f"http://{host}/team/shop.git",
               "namespace": "team", "visibility_level": 0, "path_with_namespace": "team/shop",
               "default_branch": "main", "homepage": f"http://{host}/team/shop", "url": f"git@{host}:team/shop.git",
               "ssh_url": f"git@{host}:team/shop.git", "http_url": f"http://{host}/team/shop.git"}
    attrs: dict[str, Any] = {
        "id": 99, "iid": iid, "target_branch": "main", "source_branch": "basket",
        "source_project_id": source_project_id, "target_project_id": 15, "author_id": 4, "title": "Add a basket",
        "state": {"merge": "merged", "close": "closed"}.get(action, "opened"), "merge_status": "can_be_merged",
        "url": f"http://{host}/team/shop/-/merge_requests/{iid}", "updated_at": "2026-12-01 10:10:00 UTC",
        "last_commit": {"id": HEAD, "message": "basket", "timestamp": "2026-12-01T10:00:00+00:00",
                        "author": {"name": "Dev", "email": "dev@example.invalid"}},
        "action": action,
    }
    if oldrev is not None:
        attrs["oldrev"] = oldrev
    return {"object_kind": "merge_request", "event_type": "merge_request",
            "user": {"id": 4, "name": "Dev", "username": "dev"}, "project": project,
            "object_attributes": attrs, "labels": [], "changes": {},
            "repository": {"name": "shop", "url": f"git@{host}:team/shop.git", "description": "",
                           "homepage": f"http://{host}/team/shop"}}


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


GITHUB_URLS = ("https://github.com/acme/shop.git", "git@github.com:acme/shop.git", "git://github.com/acme/shop.git",
               "https://github.com/acme/shop")


def test_which_events_are_pull_requests() -> None:
    assert is_pull_request("github", "pull_request") and is_pull_request("gitea", "pull_request")
    assert is_pull_request("gitlab", "Merge Request Hook")
    assert not is_pull_request("github", "push") and not is_pull_request("gitlab", "pull_request")
    assert not is_pull_request("github", "Merge Request Hook")
    assert event_name("gitea", {"X-GitHub-Event": "pull_request"}) == "pull_request"


def test_a_github_pull_request_opened() -> None:
    assert parse_pull_request("github", body(github_pull("opened"))) == PullRequest(
        urls=GITHUB_URLS, names=("acme/shop", "shop"), number=7, move="open", action="opened", commit=HEAD,
        head_ref="refs/pull/7/head", fork=False, repo="acme/shop", project_id="", at=1796119200.0)


@pytest.mark.parametrize(("action", "move"), [
    ("opened", "open"), ("reopened", "open"), ("synchronize", "update"), ("closed", "close"),
    ("labeled", ""), ("edited", ""), ("assigned", ""), ("review_requested", ""),
])
def test_github_actions_become_moves(action: str, move: str) -> None:
    pull = parse_pull_request("github", body(github_pull(action)))
    assert (pull.move, pull.action, pull.number, pull.commit) == (move, action, 7, HEAD)


def test_a_merged_github_pull_request_is_closed() -> None:
    pull = parse_pull_request("github", body(github_pull("closed", merged=True)))
    assert (pull.move, pull.action, pull.head_ref) == ("close", "closed", "refs/pull/7/head")


def test_a_github_pull_request_from_a_fork() -> None:
    pull = parse_pull_request("github", body(github_pull("opened", head_repo="mallory/shop")))
    assert pull.fork is True
    assert (pull.urls, pull.names, pull.repo) == (GITHUB_URLS, ("acme/shop", "shop"), "acme/shop")  # the base's
    assert pull.head_ref == "refs/pull/7/head"  # the base repository keeps the fork's commits there
    gone = github_pull("closed")
    gone["pull_request"]["head"]["repo"] = None  # the fork was deleted
    assert parse_pull_request("github", body(gone)).fork is True


def test_a_gitea_pull_request_synchronized() -> None:
    assert parse_pull_request("gitea", body(gitea_pull("synchronized"))) == PullRequest(
        urls=("http://gitea.example.invalid/team/shop.git", "git@gitea.example.invalid:team/shop.git",
              "http://gitea.example.invalid/team/shop"),
        names=("team/shop", "shop"), number=4, move="update", action="synchronized", commit=HEAD,
        head_ref="refs/pull/4/head", fork=False, repo="team/shop", project_id="", at=1796115900.0)


def test_gitea_opened_closed_and_from_a_fork() -> None:
    assert parse_pull_request("gitea", body(gitea_pull("opened"))).move == "open"
    assert parse_pull_request("gitea", body(gitea_pull("closed"))).move == "close"
    assert parse_pull_request("gitea", body(gitea_pull("label_updated"))).move == ""
    fork = parse_pull_request("gitea", body(gitea_pull("opened", head_repo="mallory/shop")))
    assert (fork.fork, fork.repo, fork.names) == (True, "team/shop", ("team/shop", "shop"))


def test_a_gitlab_merge_request_opened() -> None:
    assert parse_pull_request("gitlab", body(gitlab_merge_request("open"))) == PullRequest(
        urls=("http://gitlab.example.invalid/team/shop.git", "git@gitlab.example.invalid:team/shop.git"),
        names=("team/shop", "shop"), number=3, move="open", action="open", commit=HEAD,
        head_ref="refs/merge-requests/3/head", fork=False, repo="team/shop", project_id="15", at=1796119800.0)


def test_gitlab_updates_move_only_with_new_commits() -> None:
    pushed = parse_pull_request("gitlab", body(gitlab_merge_request("update", oldrev=OLDREV)))
    assert (pushed.move, pushed.action) == ("update", "update")
    retitled = parse_pull_request("gitlab", body(gitlab_merge_request("update")))  # title or labels: no oldrev
    assert (retitled.move, retitled.action) == ("", "update")


@pytest.mark.parametrize(("action", "move"), [("reopen", "open"), ("close", "close"), ("merge", "close"),
                                              ("approved", ""), ("unapproved", "")])
def test_gitlab_actions_become_moves(action: str, move: str) -> None:
    assert parse_pull_request("gitlab", body(gitlab_merge_request(action))).move == move


def test_a_gitlab_merge_request_from_a_fork() -> None:
    fork = parse_pull_request("gitlab", body(gitlab_merge_request("open", source_project_id=23)))
    assert (fork.fork, fork.project_id, fork.repo, fork.head_ref) == \
        (True, "15", "team/shop", "refs/merge-requests/3/head")
    same = parse_pull_request("gitlab", body(gitlab_merge_request("open", source_project_id=15)))
    assert same.fork is False


def test_a_payload_without_a_number_or_commit_is_refused() -> None:
    no_number = github_pull("opened")
    del no_number["number"]
    del no_number["pull_request"]["number"]
    with pytest.raises(BadPayload, match="the payload has no pull request number in 'number'"):
        parse_pull_request("github", body(no_number))
    for bad in (0, -1, "7", True, None):
        payload = github_pull("opened")
        payload["number"] = bad
        with pytest.raises(BadPayload, match="no pull request number"):
            parse_pull_request("github", body(payload))
    for sha in ("abc123", HEAD.upper(), HEAD + "0", None):
        payload = github_pull("opened")
        payload["pull_request"]["head"]["sha"] = sha
        with pytest.raises(BadPayload, match=r"the payload has no commit in 'pull_request.head.sha'"):
            parse_pull_request("github", body(payload))
    gitlab = gitlab_merge_request("open")
    del gitlab["object_attributes"]["iid"]
    with pytest.raises(BadPayload, match="the payload has no pull request number in 'object_attributes.iid'"):
        parse_pull_request("gitlab", body(gitlab))
    gitlab = gitlab_merge_request("open")
    gitlab["object_attributes"]["last_commit"]["id"] = "not-a-sha"
    with pytest.raises(BadPayload, match="the payload has no commit in 'object_attributes.last_commit.id'"):
        parse_pull_request("gitlab", body(gitlab))


def test_a_body_that_is_not_a_pull_request_is_refused() -> None:
    with pytest.raises(BadPayload, match="the body is not JSON"):
        parse_pull_request("github", b"action=opened")
    with pytest.raises(BadPayload, match="the body is not a JSON object"):
        parse_pull_request("gitea", b"[1, 2]")
    nowhere = github_pull("opened")
    del nowhere["repository"]
    del nowhere["pull_request"]["base"]["repo"]
    with pytest.raises(BadPayload, match="the payload has no repository"):
        parse_pull_request("github", body(nowhere))
    gitlab = gitlab_merge_request("open")
    del gitlab["project"], gitlab["repository"]
    with pytest.raises(BadPayload, match="the payload has no repository"):
        parse_pull_request("gitlab", body(gitlab))


def test_a_pull_request_matches_the_app_of_its_base_repository() -> None:
    apps = [("shop", "git@github.com:acme/shop.git"), ("mallory-shop", "https://github.com/mallory/shop.git"),
            ("lab", "http://gitlab.example.invalid/team/shop"), ("other", "https://github.com/acme/other.git")]
    fork = parse_pull_request("github", body(github_pull("opened", head_repo="mallory/shop")))
    assert match_apps(fork, apps) == ["shop"]  # never the fork's own app
    assert match_apps(parse_pull_request("gitlab", body(gitlab_merge_request("open"))), apps) == ["lab"]
    gitea = parse_pull_request("gitea", body(gitea_pull("opened", head_repo="mallory/shop")))
    assert match_apps(gitea, [("tea", "ssh://git@gitea.example.invalid:22/team/shop.git"),
                              ("mallory", "http://gitea.example.invalid/mallory/shop.git")]) == ["tea"]


@pytest.mark.parametrize("value", [None, "", "yesterday", 1764583200, "2026-13-01T10:00:00Z"])
def test_a_time_that_is_not_one_is_none(value: Any) -> None:
    payload = github_pull("closed")
    payload["pull_request"]["updated_at"] = value
    assert parse_pull_request("github", body(payload)).at is None
