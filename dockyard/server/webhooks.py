"""Webhook requests from GitHub, GitLab and Gitea: signatures and push payloads (pure, no I/O).

Each provider signs differently:
- GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, event in `X-GitHub-Event`;
- GitLab: `X-Gitlab-Token: <the secret itself>`, event in `X-Gitlab-Event` (`Push Hook`);
- Gitea:  `X-Gitea-Signature: <hex HMAC-SHA256 of the raw body>`, event in `X-Gitea-Event`.
Every comparison is constant-time. A push payload becomes a `Push`: the repository's URLs and
names, the branch (from `ref`) and the commit (`after`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from dockyard.errors import DockyardError

PROVIDERS = ("github", "gitlab", "gitea")


class BadSignature(DockyardError):
    """The request is not signed with the webhook secret: answer 401, start nothing."""


class BadPayload(DockyardError):
    """The body is not a push payload we can read: answer 400."""


@dataclass(frozen=True)
class Push:
    urls: tuple[str, ...]  # clone URLs (https, ssh, git) as the provider gives them
    names: tuple[str, ...]  # full names first ("team/shop"), then the bare name ("shop")
    branch: str
    commit: str
    deleted: bool = False


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Header lookup that works for plain dicts in tests and Starlette's case-insensitive headers."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get(name.lower())


def event_name(provider: str, headers: Mapping[str, str]) -> str:
    """The event type the provider says it sends (empty when the header is missing)."""
    header = {"github": "X-GitHub-Event", "gitlab": "X-Gitlab-Event", "gitea": "X-Gitea-Event"}[provider]
    value = _header(headers, header)
    if value is None and provider == "gitea":  # Gitea also sends the GitHub-style header
        value = _header(headers, "X-GitHub-Event")
    return (value or "").strip()


def is_push(provider: str, event: str) -> bool:
    return event == "Push Hook" if provider == "gitlab" else event == "push"


def verify(provider: str, secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Raise BadSignature unless the request carries the right signature for `secret`."""
    if not secret:
        raise BadSignature("this server has no webhook secret; it accepts no webhooks",
                           hint="set DOCKYARD_WEBHOOK_SECRET or webhook_secret in settings.yml")
    if provider == "github":
        given = _header(headers, "X-Hub-Signature-256")
        if not given:
            raise BadSignature("missing X-Hub-Signature-256 header")
        expected = "sha256=" + hmac_hex(secret, body)
    elif provider == "gitlab":
        given = _header(headers, "X-Gitlab-Token")
        if not given:
            raise BadSignature("missing X-Gitlab-Token header")
        expected = secret
    elif provider == "gitea":
        given = _header(headers, "X-Gitea-Signature")
        if not given:
            raise BadSignature("missing X-Gitea-Signature header")
        expected = hmac_hex(secret, body)
    else:
        raise BadPayload(f"unknown webhook provider {provider!r} (known: {', '.join(PROVIDERS)})")
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise BadSignature(f"wrong {provider} webhook signature")


def json_object(body: bytes) -> dict[str, Any]:
    """A webhook's body as a JSON object; BadPayload when it is not one."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadPayload("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise BadPayload("the body is not a JSON object")
    return data


def strings_in(section: object, keys: Iterable[str]) -> list[str]:
    if not isinstance(section, dict):
        return []
    return [v for k in keys if isinstance(v := section.get(k), str) and v]


def parse_push(provider: str, body: bytes) -> Push:
    """The push in a provider's payload; BadPayload when it is not JSON or lacks ref/after/repository."""
    data = json_object(body)
    ref, after = data.get("ref"), data.get("after")
    if not isinstance(ref, str) or not ref:
        raise BadPayload("the payload has no 'ref'")
    if not isinstance(after, str) or not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", after):
        raise BadPayload("the payload has no commit in 'after'")
    if provider == "gitlab":
        # GitLab: project {git_http_url, git_ssh_url, path_with_namespace, name}; repository is the older form.
        sections = [data.get("project"), data.get("repository")]
        url_keys: tuple[str, ...] = ("git_http_url", "git_ssh_url", "http_url", "ssh_url", "url")
        name_keys: tuple[str, ...] = ("path_with_namespace", "name")
    else:
        # GitHub and Gitea: repository {clone_url, ssh_url, git_url, html_url, full_name, name}.
        sections = [data.get("repository")]
        url_keys = ("clone_url", "ssh_url", "git_url", "html_url")
        name_keys = ("full_name", "name")
    urls = [u for s in sections for u in strings_in(s, url_keys)]
    names = [n for s in sections for n in strings_in(s, name_keys)]
    if not urls and not names:
        raise BadPayload("the payload has no repository")
    deleted = set(after) == {"0"} or data.get("deleted") is True
    return Push(urls=tuple(dict.fromkeys(urls)), names=tuple(dict.fromkeys(names)),
                branch=ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else "",
                commit=after, deleted=deleted)


def normalize_repo(url: str) -> str:
    """One comparable form of a git URL or path: host/path without user, port, scheme or .git.

    https://u@Git.Example/team/shop.git, ssh://git@git.example:22/team/shop and
    git@git.example:team/shop.git all give 'git.example/team/shop'; file:///srv/shop.git and
    /srv/shop.git/ give '/srv/shop'.
    """
    text = url.strip().rstrip("/")
    text = text.removesuffix(".git").rstrip("/")
    match = re.match(r"^[a-z][a-z0-9+.-]*://(?:[^@/]*@)?([^/:]*)(?::\d*)?(/.*)?$", text, re.IGNORECASE)
    if match:
        host, path = match.group(1).lower(), match.group(2) or ""
        return path if not host else f"{host}{path}"
    match = re.match(r"^(?:[^@/]+@)?([^/:]+):(?!/)(.+)$", text)  # scp-like: git@host:team/shop
    if match:
        return f"{match.group(1).lower()}/{match.group(2)}"
    return text


def repo_name(url: str) -> str:
    return normalize_repo(url).rsplit("/", 1)[-1]


class FromRepository(Protocol):
    """What an event says of its repository: a push or a pull request."""

    @property
    def urls(self) -> tuple[str, ...]: ...

    @property
    def names(self) -> tuple[str, ...]: ...


def match_apps(push: FromRepository, apps: Iterable[tuple[str, str]]) -> list[str]:
    """The registered apps (name, repo) the push is for.

    Matched by URL first (any of the payload's URLs equals the app's repo, normalized); else by
    full name (the app's repo ends with /team/shop); else, for apps whose repo is a local path (a
    mirror on this host, which has no owner to compare), by the bare repository name, which must
    then point at exactly one app. A repo on another host is never matched by its bare name:
    github.com/evil/shop is not gitlab.example/team/shop.
    """
    apps = list(apps)
    urls = {normalize_repo(u) for u in push.urls}
    by_url = [name for name, repo in apps if normalize_repo(repo) in urls]
    if by_url:
        return by_url
    full = [n for n in push.names if "/" in n]
    by_full = [name for name, repo in apps if any(normalize_repo(repo).endswith("/" + f) for f in full)]
    if by_full:
        return by_full
    bare = {n.rsplit("/", 1)[-1] for n in push.names} | {repo_name(u) for u in push.urls}
    by_name = [name for name, repo in apps if normalize_repo(repo).startswith("/") and repo_name(repo) in bare]
    return by_name if len(by_name) == 1 else []
