"""Pull request webhooks (issue 33), pure: which event is one, and what a payload says.

- GitHub: `X-GitHub-Event: pull_request`; `action` opened | reopened | synchronize | closed, `number`,
  `pull_request.head.sha`, `pull_request.head.repo` and `.base.repo` (a fork's head repo is another).
- Gitea: `X-Gitea-Event: pull_request`, GitHub's shape; its new-commits action is `synchronized`.
- GitLab: `X-Gitlab-Event: Merge Request Hook`; `object_attributes.action` open | reopen | update |
  close | merge, `.iid`, `.last_commit.id`, `.source_project_id` / `.target_project_id` (a fork's
  differ). An `update` without `oldrev` changed the title or labels, not the code: ignored.

Each becomes a `PullRequest` whose `move` is open, update, close, or "" (nothing to do). The commit is
fetched from the ref the provider keeps for it (refs/pull/N/head, refs/merge-requests/N/head), so a
preview builds what the pull request holds, from the base repository, fork or not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dockyard.server.webhooks import BadPayload, json_object, strings_in

OPENS = {"opened": "open", "reopened": "open", "synchronize": "update", "synchronized": "update", "closed": "close",
         "open": "open", "reopen": "open", "update": "update", "close": "close", "merge": "close"}
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class PullRequest:
    urls: tuple[str, ...]  # the base repository's clone URLs: where the app is registered
    names: tuple[str, ...]
    number: int
    move: str  # open | update | close | "" (an action that changes no code: labels, title...)
    action: str  # as the provider said it
    commit: str
    head_ref: str  # the ref the provider keeps the pull request's commits under, in the base repository
    fork: bool
    repo: str  # the base repository's full name (team/shop): the commit-status URL's {repo}
    project_id: str = ""  # GitLab's project id: the commit-status URL's {project_id}
    at: float | None = None  # when the pull request last changed, as the provider says (signed with the body)


def is_pull_request(provider: str, event: str) -> bool:
    return event == "Merge Request Hook" if provider == "gitlab" else event == "pull_request"


def _section(data: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _number(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadPayload(f"the payload has no pull request number in {what!r}")
    return value


def _moment(value: Any) -> float | None:
    """The provider's time of the change (GitHub, Gitea: ISO 8601; GitLab also "2026-12-07 21:00:00
    UTC"), epoch seconds; None when it gives none or one that is not a time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace(" UTC", "+00:00").replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _commit(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SHA.fullmatch(value):
        raise BadPayload(f"the payload has no commit in {what!r}")
    return value


def parse_pull_request(provider: str, body: bytes) -> PullRequest:
    """The pull request event in a provider's payload; BadPayload when a field it needs is missing."""
    data = json_object(body)
    if provider == "gitlab":
        return _gitlab(data)
    pull = _section(data, "pull_request")
    number = _number(data.get("number", pull.get("number")), "number")
    action = str(data.get("action") or "")
    base = _section(pull, "base", "repo") or _section(data, "repository")
    head = _section(pull, "head", "repo")
    urls = strings_in(base, ("clone_url", "ssh_url", "git_url", "html_url"))
    names = strings_in(base, ("full_name", "name"))
    if not urls and not names:
        raise BadPayload("the payload has no repository")
    base_id = base.get("full_name") or base.get("id")
    head_id = head.get("full_name") or head.get("id")
    return PullRequest(urls=tuple(dict.fromkeys(urls)), names=tuple(dict.fromkeys(names)), number=number,
                       move=OPENS.get(action, ""), action=action,
                       commit=_commit(_section(pull, "head").get("sha"), "pull_request.head.sha"),
                       head_ref=f"refs/pull/{number}/head", fork=not head or head_id != base_id,
                       repo=str(base.get("full_name") or ""), at=_moment(pull.get("updated_at")))


def _gitlab(data: dict[str, Any]) -> PullRequest:
    attrs = _section(data, "object_attributes")
    number = _number(attrs.get("iid"), "object_attributes.iid")
    action = str(attrs.get("action") or "")
    move = OPENS.get(action, "")
    if action == "update" and not attrs.get("oldrev"):
        move = ""  # the title, labels or assignees changed; the code did not
    project = _section(data, "project")
    sections = [project, _section(data, "repository")]
    urls = [u for s in sections for u in strings_in(s, ("git_http_url", "git_ssh_url", "http_url", "ssh_url", "url"))]
    names = [n for s in sections for n in strings_in(s, ("path_with_namespace", "name"))]
    if not urls and not names:
        raise BadPayload("the payload has no repository")
    source, target = attrs.get("source_project_id"), attrs.get("target_project_id")
    return PullRequest(urls=tuple(dict.fromkeys(urls)), names=tuple(dict.fromkeys(names)), number=number,
                       move=move, action=action,
                       commit=_commit(_section(attrs, "last_commit").get("id"), "object_attributes.last_commit.id"),
                       head_ref=f"refs/merge-requests/{number}/head", fork=source is None or source != target,
                       repo=str(project.get("path_with_namespace") or ""),
                       project_id=str(target if target is not None else project.get("id") or ""),
                       at=_moment(attrs.get("updated_at")))
