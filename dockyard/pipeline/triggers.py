"""Starting runs: from a git hook, a webhook, polling, or by hand. All end in `enqueue`."""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

from dockyard import settings
from dockyard.errors import DockyardError
from dockyard.pipeline.model import plan_run
from dockyard.pipeline.source import export_commit
from dockyard.pipeline.store import RunStore
from dockyard.spec import load_spec

HOOK_MARK = "# installed by dockyard hook install"
PASSED_ENV = ("DOCKYARD_HOME", "DOCKYARD_CONFIG_STORE", "DOCKYARD_SECRET_KEY_FILE", "DOCKYARD_RUN", "PATH")


def enqueue(store: RunStore, app: str, commit: str, branch: str, trigger: str) -> int | None:
    """Queue a run of `commit`, planned from the dockyard.yml of that very commit; None if the
    branch runs no pipeline."""
    record = store.app(app)
    source = export_commit(app, record.repo, commit)
    spec = load_spec(source / record.spec_file)
    steps = plan_run(spec, branch)
    if steps is None:
        return None
    return store.create_run(app, commit, branch, trigger, steps, supersede=spec.pipeline.supersede)


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
