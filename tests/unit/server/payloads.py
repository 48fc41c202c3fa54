"""Push payloads in each provider's own format (trimmed to the fields a push carries), and signing."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

BEFORE = "28e1879d029cb852e4844d9c718537df08844e03"


def github_push(clone_url: str, ssh_url: str, full_name: str, branch: str, after: str) -> dict:
    name = full_name.rsplit("/", 1)[-1]
    return {
        "ref": f"refs/heads/{branch}", "before": BEFORE, "after": after, "created": False, "deleted": False,
        "forced": False, "base_ref": None, "compare": f"https://github.com/{full_name}/compare/{BEFORE[:12]}...{after[:12]}",
        "commits": [{"id": after, "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433", "distinct": True,
                     "message": "change", "timestamp": "2026-11-25T10:00:00Z",
                     "author": {"name": "dev", "email": "dev@example.invalid", "username": "dev"},
                     "added": [], "removed": [], "modified": ["www/index.html"]}],
        "head_commit": {"id": after, "message": "change"},
        "repository": {"id": 17892893, "node_id": "MDEwOlJlcG9zaXRvcnkxNzg5Mjg5Mw==", "name": name,
                       "full_name": full_name, "private": True, "owner": {"login": full_name.split("/")[0]},
                       "html_url": f"https://github.com/{full_name}", "url": f"https://api.github.com/repos/{full_name}",
                       "git_url": f"git://github.com/{full_name}.git", "ssh_url": ssh_url, "clone_url": clone_url,
                       "default_branch": "main", "master_branch": "main"},
        "pusher": {"name": "dev", "email": "dev@example.invalid"},
        "sender": {"login": "dev", "id": 1},
    }


def gitlab_push(http_url: str, ssh_url: str, path: str, branch: str, after: str) -> dict:
    name = path.rsplit("/", 1)[-1]
    return {
        "object_kind": "push", "event_name": "push", "before": BEFORE, "after": after,
        "ref": f"refs/heads/{branch}", "ref_protected": True, "checkout_sha": after, "message": None,
        "user_id": 4, "user_name": "Dev", "user_username": "dev", "user_email": "", "project_id": 15,
        "project": {"id": 15, "name": name, "description": "", "web_url": f"http://gitlab.example.invalid/{path}",
                    "git_ssh_url": ssh_url, "git_http_url": http_url, "namespace": path.split("/")[0],
                    "visibility_level": 0, "path_with_namespace": path, "default_branch": "main",
                    "homepage": f"http://gitlab.example.invalid/{path}", "url": ssh_url, "ssh_url": ssh_url,
                    "http_url": http_url},
        "commits": [{"id": after, "message": "change", "title": "change", "timestamp": "2026-11-25T10:00:00+00:00",
                     "author": {"name": "Dev", "email": "dev@example.invalid"}, "added": [],
                     "modified": ["www/index.html"], "removed": []}],
        "total_commits_count": 1,
        "repository": {"name": name, "url": ssh_url, "description": "", "homepage": f"http://gitlab.example.invalid/{path}",
                       "git_http_url": http_url, "git_ssh_url": ssh_url, "visibility_level": 0},
    }


def gitea_push(clone_url: str, ssh_url: str, full_name: str, branch: str, after: str) -> dict:
    name = full_name.rsplit("/", 1)[-1]
    return {
        "ref": f"refs/heads/{branch}", "before": BEFORE, "after": after,
        "compare_url": f"http://gitea.example.invalid/{full_name}/compare/{BEFORE}...{after}",
        "commits": [{"id": after, "message": "change\n", "url": f"http://gitea.example.invalid/{full_name}/commit/{after}",
                     "author": {"name": "Dev", "email": "dev@example.invalid", "username": "dev"},
                     "committer": {"name": "Dev", "email": "dev@example.invalid", "username": "dev"},
                     "timestamp": "2026-11-25T10:00:00Z"}],
        "repository": {"id": 140, "owner": {"id": 1, "login": full_name.split("/")[0], "full_name": ""},
                       "name": name, "full_name": full_name, "description": "", "private": False, "fork": False,
                       "html_url": f"http://gitea.example.invalid/{full_name}", "ssh_url": ssh_url,
                       "clone_url": clone_url, "default_branch": "main"},
        "pusher": {"id": 1, "login": "dev"}, "sender": {"id": 1, "login": "dev"},
    }


def body_of(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def signed_headers(provider: str, secret: str, body: bytes, event: str | None = None) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if provider == "github":
        return {"X-GitHub-Event": event or "push", "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}
    if provider == "gitlab":
        return {"X-Gitlab-Event": event or "Push Hook", "X-Gitlab-Token": secret,
                "X-Gitlab-Event-UUID": str(uuid.uuid4()), "Content-Type": "application/json"}
    return {"X-Gitea-Event": event or "push", "X-GitHub-Event": event or "push",
            "X-Gitea-Delivery": str(uuid.uuid4()), "X-Gitea-Signature": digest,
            "Content-Type": "application/json"}
