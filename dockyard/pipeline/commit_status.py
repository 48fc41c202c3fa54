"""A preview's state reported back on its commit (issue 33), in GitHub's statuses shape.

The site sets a URL per provider (`commit_status:` in settings.yml); what is sent is
`{state: pending|success|failure|error, target_url, description, context}`. Reporting never fails
what it reports on: a receiver that is down is retried a few times, then logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from dockyard import settings
from dockyard.errors import DockyardError
from dockyard.settings_model import CommitStatusSettings

log = logging.getLogger(__name__)
ATTEMPTS = 3
TIMEOUT_S = 5.0
DESCRIPTION_MAX = 140  # GitHub refuses longer descriptions


@dataclass(frozen=True)
class CommitStatus:
    state: str  # pending | success | failure | error
    description: str
    target_url: str = ""

    def body(self, context: str) -> dict[str, Any]:
        text = self.description if len(self.description) <= DESCRIPTION_MAX else \
            self.description[:DESCRIPTION_MAX - 1] + "…"
        body: dict[str, Any] = {"state": self.state, "description": text, "context": context}
        if self.target_url:
            body["target_url"] = self.target_url
        return body


def status_url(target: CommitStatusSettings, repo: str, sha: str, number: int, project_id: str) -> str:
    return (target.url.replace("{repo}", repo).replace("{sha}", sha).replace("{number}", str(number))
            .replace("{project_id}", project_id))


Poster = Callable[[str, dict[str, Any], dict[str, str]], int]


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> int:
    with httpx.Client(timeout=TIMEOUT_S) as client:
        return client.post(url, json=body, headers=headers).status_code


def report(provider: str, repo: str, sha: str, number: int, project_id: str, status: CommitStatus,
           post: Poster = _post) -> bool:
    """Send the status where the site says for `provider`; False when none is set or it was not taken."""
    try:
        target = next((t for name, t in settings.load().commit_status.items() if name == provider), None)
    except DockyardError as exc:  # a broken settings file: said, and what reports goes on
        log.warning("commit status %s for %s not sent: %s", status.state, sha[:12], exc.message)
        return False
    if target is None:
        return False
    url = status_url(target, repo, sha, number, project_id)
    headers = {"Accept": "application/json", "User-Agent": "dockyard"}
    if target.token:
        headers["Authorization"] = f"Bearer {target.token}"
    for attempt in range(ATTEMPTS):
        try:
            code = post(url, status.body(target.context), headers)
            if code < 300:
                return True
            log.warning("commit status %s for %s was answered %s", status.state, sha[:12], code)
            if code < 500:
                return False  # refused: another try gets the same answer
        except httpx.HTTPError as exc:
            log.warning("commit status %s for %s not sent: %s", status.state, sha[:12], exc)
        if attempt + 1 < ATTEMPTS:
            time.sleep(0.5 * (attempt + 1))
    return False


_pending: deque[tuple[Any, ...]] = deque()
_lock = threading.Lock()
_sender: threading.Thread | None = None


def report_later(*args: Any) -> None:
    """report(*args) in this process's one sender thread: the caller (a webhook's answer) never waits
    on a slow receiver, and one commit's statuses still arrive in the order they were said. The
    thread is not a daemon: a CLI command's process ends once what it said is sent."""
    global _sender
    with _lock:
        _pending.append(args)
        if _sender is None:
            _sender = threading.Thread(target=_drain, name="commit-status", daemon=False)
            _sender.start()


def _drain() -> None:
    global _sender
    while True:
        with _lock:
            if not _pending:
                _sender = None
                return
            args = _pending.popleft()
        try:
            report(*args)
        except Exception:  # one bad status must not stop those behind it
            log.exception("commit status not sent")
