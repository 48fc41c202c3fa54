"""An environment's release history as deploys and rollbacks use it: a release added, the one way
every strategy, target and rollback records it (a live one is announced as deployed or rolled back,
notify/; a failed one notes why), and the release a rollback restores."""

from __future__ import annotations

from collections.abc import Callable

from dockyard.errors import DeployError, DockyardError, NotFound, StoreUnavailable
from dockyard.notify.emit import emit
from dockyard.state.db import Release, StateDB


def record_release(db: StateDB, app: str, author: str, report: Callable[[str], None], env: str, release_id: str,
                   image: str, commit: str | None, config_revision: int, status: str, note: str = "",
                   failure: DockyardError | None = None) -> None:
    """Add the release to the history; a failed one is noted with the first line of its error,
    after the caller's note."""
    if failure is not None:  # a failed release says why, beside what the caller noted
        reason = failure.message.splitlines()[0][:200]
        note = f"{note}: {reason}" if note else reason
    try:
        seq = db.add_release(app, env, release_id, image, commit, config_revision, status, author, note)
    except StoreUnavailable as exc:
        if status != "live":  # the deploy's own failure is what the user must see
            report(f"could not record release {release_id} as {status}: {exc.message}")
            return
        raise DeployError(f"{app}/{env}: release {release_id} runs, but could not be recorded: {exc.message}",
                          hint="deploy the same again once the state database is free: it changes nothing and "
                               "records the release") from exc
    if status == "live":
        kind, did = ("rolled_back", "rolled back to") if note.startswith("rollback") else ("deployed", "runs")
        emit(db, f"release:{app}:{env}:{seq}", kind, app, env, f"{app}/{env} {did} release {release_id} (by {author})",
             release=release_id, image=image, commit=commit, config_revision=config_revision, by=author, note=note)


def rollback_pair(db: StateDB, app: str, env: str) -> tuple[Release, Release]:
    """(the live release, the one a rollback restores: the newest earlier one it superseded)."""
    history = db.releases(app, env, limit=200)
    live = next((r for r in history if r.status == "live"), None)
    if live is None:
        raise NotFound(f"{app}/{env} has no live release to roll back from")
    previous = next((r for r in history if r.seq < live.seq and r.status == "superseded"
                     and r.release_id != live.release_id), None)
    if previous is None:
        raise NotFound(f"{app}/{env} has no earlier release to roll back to")
    return live, previous
