"""Polling git remotes, for repositories where no hook or webhook can be installed.

For each registered app whose dockyard.yml sets `pipeline.poll`, every that often: `git ls-remote`
each branch named in `pipeline.branches` without glob characters (a `*` pattern alone stands for
the repository's default branch), compare with the last commit seen (the `polled` table) and queue
a run when it moved. The first look at a branch only records its commit: registering an app does
not deploy what is already there. The decisions are pure; `Poller` does the I/O.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dockyard.errors import DockyardError
from dockyard.pipeline.source import _git, branch_head, export_commit
from dockyard.pipeline.store import AppRecord, RunStore
from dockyard.pipeline.triggers import enqueue
from dockyard.server.store import PollMarks
from dockyard.spec import AppSpec, load_spec

log = logging.getLogger(__name__)
GLOB = set("*?[]")
RECHECK = 60.0  # how often an app without pipeline.poll is looked at again (its spec may change)


def pollable_branches(patterns: Iterable[str], default_branch: str | None) -> list[str]:
    """Branch names to poll: patterns without glob characters; `*` alone means the default branch."""
    names: list[str] = []
    for pattern in patterns:
        if pattern == "*":
            if default_branch:
                names.append(default_branch)
        elif not GLOB & set(pattern):
            names.append(pattern)
    return list(dict.fromkeys(names))


def decide(last_seen: str | None, head: str | None) -> str:
    """What to do about a branch: 'baseline' (first look), 'run', 'same' or 'gone'."""
    if head is None:
        return "gone"
    if last_seen is None:
        return "baseline"
    return "same" if head == last_seen else "run"


def parse_symref(text: str) -> str | None:
    """The default branch from `git ls-remote --symref REPO HEAD`."""
    for line in text.splitlines():
        if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
            return line.removeprefix("ref: refs/heads/").removesuffix("\tHEAD")
    return None


def remote_head(repo: str) -> tuple[str | None, str | None]:
    """(default branch, its commit) of a remote."""
    out = _git("ls-remote", "--symref", repo, "HEAD").decode()
    sha = next((line.split()[0] for line in out.splitlines() if line.endswith("\tHEAD") and
                not line.startswith("ref:")), None)
    return parse_symref(out), sha


def app_spec(record: AppRecord, commit: str) -> AppSpec:
    """The app's dockyard.yml as of `commit` (the export is kept, so asking again is cheap)."""
    return load_spec(export_commit(record.name, record.repo, commit) / record.spec_file)


@dataclass(frozen=True)
class Polled:
    app: str
    branch: str
    commit: str
    action: str  # baseline | run | same | gone | no-pipeline
    run_id: int | None = None


class Poller:
    def __init__(self, store: RunStore, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.marks = PollMarks(store.db)
        self.clock = clock
        self.due: dict[str, float] = {}

    def last_seen(self, app: str, branch: str) -> str | None:
        return self.marks.last_seen(app, branch)

    def remember(self, app: str, branch: str, commit: str) -> None:
        self.marks.remember(app, branch, commit)

    def poll_app(self, record: AppRecord) -> tuple[float | None, list[Polled]]:
        """Poll one app now: (its poll interval or None, what was seen per branch)."""
        default, head = remote_head(record.repo)
        if head is None:
            return None, []
        spec = app_spec(record, head)
        if spec.pipeline.poll is None:
            return None, []
        results = []
        for branch in pollable_branches(spec.pipeline.branches, default):
            sha = head if branch == default else branch_head(record.repo, branch)
            action = decide(self.last_seen(record.name, branch), sha)
            run_id = None
            if action == "run" and sha is not None:
                run_id = enqueue(self.store, record.name, sha, branch, "poll")
                action = "run" if run_id is not None else "no-pipeline"
            if sha is not None:
                self.remember(record.name, branch, sha)
            results.append(Polled(record.name, branch, sha or "", action, run_id))
        return spec.pipeline.poll, results

    def poll_due(self, once: bool = False) -> list[Polled]:
        """Poll every app whose time has come (every app when `once`); errors are logged, not raised."""
        now = self.clock()
        results: list[Polled] = []
        for record in self.store.apps():
            if not once and self.due.get(record.name, 0.0) > now:
                continue
            try:
                every, seen = self.poll_app(record)
            except DockyardError as exc:
                log.warning("polling %s (%s) failed: %s", record.name, record.repo, exc.message)
                every, seen = None, []
            self.due[record.name] = now + (every or RECHECK)
            for item in seen:
                if item.action == "run":
                    log.info("poll: %s %s moved to %s: run %s queued", item.app, item.branch, item.commit[:7],
                             item.run_id)
            results += seen
        return results
