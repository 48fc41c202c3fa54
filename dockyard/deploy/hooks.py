"""The hooks around a deploy (issue 31): `hooks: {pre_deploy, post_deploy, post_switch}` in
dockyard.yml, each a command in a one-off container of the NEW release (its image, configuration,
secrets, files and network), with DOCKYARD_HOOK, DOCKYARD_RELEASE and DOCKYARD_PREVIOUS_RELEASE set.

Where each runs is the strategy's business (deploy/strategies/); what a run is, here: its output
passed on as it is written, kept with its outcome in the task history (kind `hook.NAME`), audited
as the deploy's author did it, and announced (`hook.succeeded`, `hook.failed`) like a deploy. A
deploy, a promotion and a pipeline run hooks; a rollback and the restore after a failed test run
none (they put back a release that already ran them).
"""

from __future__ import annotations

import time

from dockyard.deploy.one_off import Place, TaskContext, remove_after_grace
from dockyard.deploy.outcome import Report
from dockyard.deploy.release_task import LAST_LINES
from dockyard.engine import labels as L
from dockyard.engine.facts import TaskRun
from dockyard.errors import DeployError, EngineError
from dockyard.notify.emit import emit
from dockyard.spec import AppSpec
from dockyard.spec.tasks import HOOKS
from dockyard.state.audit import AuditLog

KIND = "hook"


def _stem(hook: str) -> str:
    return f"hook-{hook.replace('_', '-')}"


class HookFailed(DeployError):
    """A hook failed, timed out or could not start; what that means is the strategy's to say."""

    def __init__(self, message: str, hook: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.hook = hook


class Hooks:
    """The app's hooks for one deploy of one environment on a container engine."""

    def __init__(self, spec: AppSpec, place: Place, env: str, tasks: TaskContext, report: Report) -> None:
        self.spec, self.place, self.env, self.report = spec, place, env, report
        self.db, self.author, self.finished = tasks.db, tasks.author, tasks.finished
        self.app = spec.app

    def run(self, name: str, release_id: str, previous: str | None) -> None:
        """Run the hook `name` for the release, if dockyard.yml has it; raise HookFailed unless it succeeds."""
        hook = self.spec.hooks.get(name)
        if hook is None:
            return
        self._clear_leftovers()
        kind = f"{KIND}.{name}"
        container_name = L.scoped_name(self.app, self.env, _stem(name), release_id)
        self.report(f"hook {name}: {' '.join(hook.command)} (release {release_id}, in {container_name})")
        environment = {"DOCKYARD_HOOK": name, "DOCKYARD_RELEASE": release_id,
                       "DOCKYARD_PREVIOUS_RELEASE": previous or ""}
        try:
            one = self.place.create(self.spec.task_service(hook.service), KIND, hook.command, container_name,
                                    environment=environment)
        except EngineError as exc:
            self._tell(name, release_id, f"could not start: {exc.message}", None)
            raise HookFailed(f"{self.app}/{self.env}: the {name} hook could not start: {exc.message}", name) from exc
        try:
            self.db.start_task(self.app, self.env, release_id, container_name, kind)
            self.place.start(one)
            result = self.place.wait(one, hook.timeout, lambda line: self.report(f"  | {line}"))
        except EngineError as exc:
            self.db.end_task(self.app, self.env, release_id, container_name, "failed", None, 0.0, exc.message, kind)
            self._tell(name, release_id, f"could not run: {exc.message}", None)
            raise HookFailed(f"{self.app}/{self.env}: the {name} hook could not run: {exc.message}", name) from exc
        finally:
            self.finished.keep(self.place, one)  # removed once the log forwarder had it (one_off.py)
        self.db.end_task(self.app, self.env, release_id, container_name, result.status, result.exit_code,
                         result.seconds, result.output[-4096:], kind)
        self.report(f"hook {name} of release {release_id}: {result.summary()}")
        self._tell(name, release_id, result.summary(), result)
        if not result.succeeded:
            tail = "\n".join(result.output.rstrip("\n").splitlines()[-LAST_LINES:])
            raise HookFailed(f"{self.app}/{self.env}: the {name} hook of release {release_id} {result.summary()}"
                             f"\n--- its last lines ---\n{tail}", name,
                             hint=f"fix it ({self.spec.where('hooks', name)}) and deploy again")

    def _tell(self, name: str, release_id: str, summary: str, result: TaskRun | None) -> None:
        """The run in the audit log, under the deploy's author, and to the notification routes."""
        ok = result is not None and result.succeeded
        AuditLog(self.db).record(self.author, "deploy", f"hook {name}", f"{self.app}/{self.env}",
                                 "ok" if ok else f"failed: {summary}", f"release {release_id}")
        emit(self.db, f"hook:{self.app}:{self.env}:{release_id}:{name}:{time.time_ns()}",
             "hook.succeeded" if ok else "hook.failed", self.app, self.env,
             f"{self.app}/{self.env}: hook {name} of release {release_id} {summary}", hook=name, release=release_id,
             exit_code=None if result is None else result.exit_code,
             seconds=None if result is None else round(result.seconds, 3), by=self.author)

    def _clear_leftovers(self) -> None:
        """A hook's container a killed deploy left (a hook runs within its deploy, never after it):
        removed, its run recorded as interrupted."""
        for one in self.place.leftovers():
            if one.labels.get(L.TASK) != KIND or self.finished.holds(one):
                continue
            run = self.db.task_of(self.app, self.env, one.name)
            if run is not None and run.ended:  # recorded; its deploy ended before removing it
                remove_after_grace(self.place, one)
                continue
            self.report(f"removing {one.name}: a hook left by an interrupted deploy")
            kind = next((f"{KIND}.{n}" for n in HOOKS
                         if one.name.startswith(L.scoped_name(self.app, self.env, _stem(n), ""))), KIND)
            self.db.end_task(self.app, self.env, one.labels.get(L.RELEASE, ""), one.name, "interrupted",
                             None, 0.0, "", kind)
            self.place.remove(one)
