"""The release task (issue 31): `release: {command, timeout, service}` in dockyard.yml runs once per
release, in a one-off container of the NEW image with the environment's configuration, secrets,
files and network (its accessories reachable by name), after the image is pulled and before any
replica of the release starts or any traffic moves. A migration, typically.

- Once per release: a release whose task succeeded does not run it again (its release id covers
  the image and the configuration, so a configuration change is a new release, which runs it).
  After a failure, the next deploy of it runs it again.
- It fails, times out, or Dockyard is killed: nothing has started or switched, the old release
  still serves. A task container left by a killed deploy keeps running; the next deploy of the
  environment waits for it (or takes how it ended) and records it before anything else, so a
  task that was killed with its deploy still counts once, and never runs twice at the same time.
- Its output is passed on as it is written (the deploy's report: the terminal, a pipeline step's
  log), its outcome, exit code and duration kept per run (`dockyard releases`, GET .../releases).
"""

from __future__ import annotations

from dockyard.deploy.one_off import Place, TaskContext, remove_after_grace
from dockyard.deploy.outcome import Report
from dockyard.engine import labels as L
from dockyard.engine.facts import TaskRun
from dockyard.errors import DeployError, EngineError
from dockyard.spec import AppSpec

KIND = "release"
LAST_LINES = 20  # of the task's output in a failure's message


class ReleaseTaskFailed(DeployError):
    """The release task did not succeed: no replica of the release started, nothing switched."""


class ReleaseTask:
    def __init__(self, spec: AppSpec, place: Place, env: str, tasks: TaskContext, report: Report) -> None:
        self.spec, self.place, self.env, self.report = spec, place, env, report
        self.db, self.finished = tasks.db, tasks.finished
        self.app = spec.app

    def run(self, release_id: str, again: bool = False) -> None:
        """Run the app's release task for the release (where the place makes one-offs of it), unless
        it already succeeded (`again`: a rollback asked to run it anyway)."""
        task = self.spec.release
        if task is None:
            return
        self.collect_leftovers(task.timeout)
        done = [t for t in self.db.release_tasks(self.app, self.env, release_id) if t.status == "succeeded"]
        if done and not again:
            self.report(f"release task: already succeeded for release {release_id}; not run again")
            return
        name = L.scoped_name(self.app, self.env, KIND, release_id)
        self.report(f"release task: {' '.join(task.command)} (release {release_id}, in {name})")
        one = self.place.create(self.spec.release_service(), KIND, task.command, name)
        try:
            self.db.start_task(self.app, self.env, release_id, name)
            self.place.start(one)
        except EngineError:
            self.place.remove(one)
            raise
        # From here a kill of this process leaves the task running: the next deploy collects it.
        result = self.place.wait(one, task.timeout, self._line)
        self._record(release_id, name, result)
        self.finished.keep(self.place, one)  # removed once the log forwarder had it (one_off.py)
        if not result.succeeded:
            raise self._failure(release_id, result)

    def collect_leftovers(self, timeout: float) -> None:
        """Task containers a killed deploy left: wait for each to end, record it, remove it."""
        for one in self.place.leftovers():
            if one.labels.get(L.TASK) != KIND:  # a hook, a `dockyard run` one-off: not a release task
                continue
            release = one.labels.get(L.RELEASE, "")
            if one.status == "created":  # made, never started: it ran nothing
                self.place.remove(one)
                continue
            run = self.db.task_of(self.app, self.env, one.name)
            if run is not None and run.ended:  # recorded; its deploy ended before removing it
                remove_after_grace(self.place, one)
                continue
            self.report(f"release task of release {release} left by an interrupted deploy: "
                        + ("waiting for it to end" if one.running else "taking how it ended"))
            result = self.place.wait(one, timeout, self._line)
            self._record(release, one.name, result)
            self.place.remove(one)

    def _line(self, line: str) -> None:
        self.report(f"  | {line}")

    def _record(self, release_id: str, name: str, result: TaskRun) -> None:
        self.db.end_task(self.app, self.env, release_id, name, result.status, result.exit_code, result.seconds,
                         result.output[-4096:])
        self.report(f"release task of release {release_id}: {result.summary()}")

    def _failure(self, release_id: str, result: TaskRun) -> ReleaseTaskFailed:
        tail = "\n".join(result.output.rstrip("\n").splitlines()[-LAST_LINES:])
        return ReleaseTaskFailed(
            f"{self.app}/{self.env}: the release task of release {release_id} {result.summary()}; no replica of "
            f"it started and nothing switched\n--- its last lines ---\n{tail}",
            hint=f"fix it ({self.spec.where('release')}) and deploy again: the task runs again")
