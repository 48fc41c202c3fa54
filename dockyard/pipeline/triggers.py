"""Starting runs: from a git hook, a webhook, polling, or by hand. All end in `enqueue`."""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

from dockyard import settings
from dockyard.errors import DockyardError, Forbidden
from dockyard.pipeline.model import check_commit, plan_run
from dockyard.pipeline.source import (
    branch_commit,
    default_branch_head,
    default_branch_name,
    export_commit,
    is_on_branch,
    update_mirror,
)
from dockyard.pipeline.store import RunStore
from dockyard.spec import load_spec

HOOK_MARK = "# installed by dockyard hook install"
PASSED_ENV = ("DOCKYARD_HOME", "DOCKYARD_CONFIG_STORE", "DOCKYARD_SECRET_KEY_FILE", "DOCKYARD_RUN", "PATH")


def fetched_head(store: RunStore, app: str, branch: str) -> tuple[Path, str | None]:
    """The app's mirror, fetched now, and the commit `branch` points at in it (None: no such branch).
    A webhook's push runs only when it names this commit: a captured older push names another."""
    record = store.app(app)
    mirror = update_mirror(app, record.repo)
    return mirror, branch_commit(mirror, branch)


def require_on_branch(mirror: Path, commit: str, branch: str, repo: str) -> None:
    """Forbidden unless `commit` is reachable from the head of `branch` in the (fetched) mirror."""
    if not is_on_branch(mirror, commit, branch):
        raise Forbidden(f"commit {commit[:12]} is not on branch {branch!r} of {repo}; not starting a run",
                        hint="a run's branch decides where it may deploy, so the commit must be on it")


def enqueue(store: RunStore, app: str, commit: str, branch: str, trigger: str, started_by: str = "",
            mirror: Path | None = None) -> int | None:
    """Queue a run of `commit`; None if the branch runs no pipeline. `mirror`: one the caller has
    just fetched (fetched_head), so it is not fetched again.

    A commit is untrusted: it must be on the branch it claims (reachable from the branch's head in
    the mirror), and where the branch may go (pipeline.branches, gates, required tests) is read from
    the dockyard.yml of the repository's default branch, never from the commit being run.
    """
    record = store.app(app)
    mirror = mirror or update_mirror(app, record.repo)
    require_on_branch(mirror, commit, branch, record.repo)
    spec = load_spec(export_commit(app, record.repo, commit, mirror) / record.spec_file)
    default_head = default_branch_head(mirror)
    policy = spec if default_head in (None, commit) else \
        load_spec(export_commit(app, record.repo, default_head, mirror) / record.spec_file)
    steps = plan_run(policy, branch, spec)
    if steps is None:
        return None
    check_commit(app, spec, policy, branch, default_branch_name(mirror), settings.load().policy(app),
                 sorted({s.env for s in steps if s.env}))
    return store.create_run(app, commit, branch, trigger, steps, supersede=policy.pipeline.supersede,
                            started_by=started_by)


def hook_script(app: str, kind: str) -> str:
    exports = "".join(f"export {name}={shlex.quote(os.environ[name])}\n" for name in PASSED_ENV if name in os.environ)
    if "DOCKYARD_HOME" not in os.environ:
        exports += f"export DOCKYARD_HOME={shlex.quote(str(settings.home()))}\n"
    dockyard = shlex.quote(str(Path(sys.executable).parent / "dockyard"))
    return (f"#!/bin/sh\n{HOOK_MARK}: start a pipeline run of {app} for each new commit.\n{exports}"
            f"exec {dockyard} pipeline trigger --app {shlex.quote(app)} --hook {kind}\n")


def install_hooks(git_dir: Path, app: str) -> list[Path]:
    hooks = git_dir / "hooks"
    hooks.mkdir(exist_ok=True)
    written = []
    for kind in ("post-commit", "post-receive"):
        path = hooks / kind
        if path.exists() and HOOK_MARK not in path.read_text(errors="replace"):
            raise DockyardError(f"{path} exists and was not written by Dockyard; not replacing it",
                                hint=f"add this line to it: dockyard pipeline trigger --app {app} --hook {kind}")
        path.write_text(hook_script(app, kind))
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(path)
    return written


def parse_post_receive(text: str) -> list[tuple[str, str]]:
    """(commit, branch) for each updated branch in a post-receive hook's stdin (deletions skipped)."""
    updates = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].startswith("refs/heads/") and set(parts[1]) != {"0"}:
            updates.append((parts[1], parts[2].removeprefix("refs/heads/")))
    return updates
