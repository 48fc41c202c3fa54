"""Running the scheduled jobs: each pass (`tick`) takes how every job container that ended did,
stops the ones past their timeout, then starts the runs that are due.

A run is a one-off container of the environment's live release (its image, configuration, secrets,
files and network), named `APP_ENV_job-NAME_MOMENT`, labelled `dockyard.task=job.NAME`. It runs
detached: the server does not wait for it, and a server that restarts finds it by its label, so
a job still running is never started twice (`forbid` skips the moment, `replace` stops the running
one first). Each run is kept in the task history (kind `job.NAME`, with the moment it was due), in
the audit log as the server's doing, and a failure is announced (`job.failed`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dockyard.config.service import ConfigService
from dockyard.deploy.deployer import Deployer
from dockyard.deploy.one_off import LOG_GRACE, create_one_off, ended_long_enough, remove_one_off
from dockyard.deploy.run_task import live_workload
from dockyard.engine import labels as L
from dockyard.engine.facts import ReplicaFacts, TaskRun
from dockyard.engine.interface import Engine
from dockyard.errors import DockyardError, EngineError
from dockyard.jobs.plan import due
from dockyard.jobs.store import JobStore
from dockyard.notify.emit import emit
from dockyard.spec import AppSpec, load_spec
from dockyard.spec.tasks import JobSpec
from dockyard.state.audit import AuditLog
from dockyard.state.db import StateDB, TaskRecord

ACTOR = "dockyard-server"
KILL_WAIT = 1.0  # seconds a running job is given when it is stopped (timeout, replace)
HAND_GRACE = 60.0  # seconds past its timeout a run by hand is left to whoever ran it (`jobs run-now`)

Report = Callable[[str], None]
Engines = Callable[[str], Engine]  # an engine by its name in the site's settings


class JobBusy(DockyardError):
    """A run of the job asked for by hand while one runs, under concurrency: forbid."""


def kind_of(job: str) -> str:
    return f"job.{job}"


@dataclass(frozen=True)
class Started:
    job: str
    container: str
    release_id: str


class JobRunner:
    def __init__(self, db: StateDB, config: Callable[[], ConfigService], engines: Engines, report: Report,
                 clock: Callable[[], float] = time.time) -> None:
        """`clock`: the moment the schedules are read at (a test's own); durations are the wall clock's."""
        self.db, self.config, self.engines, self.report, self.clock = db, config, engines, report, clock
        self.store = JobStore(db)

    # -- the server's pass ---------------------------------------------------------------------------
    def tick(self, specs: list[AppSpec]) -> list[Started]:
        """One pass over every job of every environment of these apps; the runs it started."""
        started: list[Started] = []
        for spec in specs:
            for env in spec.env_names():
                jobs = [job for job in spec.jobs if job.runs_in(env)]
                if jobs:
                    started += self._environment(spec, env, jobs)
        return started

    def _environment(self, spec: AppSpec, env: str, jobs: list[JobSpec]) -> list[Started]:
        if self.db.live_release(spec.app, env) is None:
            return []  # nothing live: nothing to run a job in (its moments are handled when it is)
        try:
            engine = self.engines(spec.environment(env).engine)
        except DockyardError as exc:
            self.report(f"{spec.app}/{env}: jobs not run: {exc.message.splitlines()[0]}")
            return []
        started = []
        try:
            running = self.collect(spec, env, engine)  # one look at the engine per environment and pass
            for job in jobs:
                try:
                    run = self._schedule(spec, env, job, engine, [c for c in running if c.labels.get(L.TASK) ==
                                                                  kind_of(job.name)])
                except DockyardError as exc:  # one job's trouble (its image, the engine) is told, the rest go on
                    self.report(f"{spec.app}/{env}: job {job.name} not started: {exc.message.splitlines()[0]}")
                    self._failed(spec.app, env, job.name, f"could not start: {exc.message.splitlines()[0]}")
                    continue
                if run is not None:
                    started.append(run)
        finally:
            engine.close()
        return started

    def _schedule(self, spec: AppSpec, env: str, job: JobSpec, engine: Engine,
                  running: list[ReplicaFacts]) -> Started | None:
        """Start the job's run if one is due; `running`: its containers that run now."""
        now = self.clock()
        mark = self.store.mark(spec.app, env, job.name)
        if mark is None:  # a job seen for the first time runs from its next moment on
            self.store.set_mark(spec.app, env, job.name, now)
            return None
        moment = due(job.schedule, mark, now, job.skip_missed)
        if moment is None:
            return None
        self.store.set_mark(spec.app, env, job.name, moment.at)
        if not moment.run:
            self._skip(spec.app, env, job.name, moment.at, moment.describe())
            return None
        if running and job.concurrency == "forbid":
            self._skip(spec.app, env, job.name, moment.at, f"{moment.describe()}: skipped, the run of "
                       f"{running[0].name} still runs (concurrency: forbid)")
            return None
        for container in running:  # concurrency: replace
            self._end(spec.app, env, engine, container, "replaced", stop=True)
        self.report(f"{spec.app}/{env}: job {job.name} {moment.describe()}")
        return self.start(spec, env, job, engine, moment.at)

    # -- one run ---------------------------------------------------------------------------------------
    def start(self, spec: AppSpec, env: str, job: JobSpec, engine: Engine, due_at: float | None) -> Started:
        """Start a run of the job in a one-off container of the live release (detached); `due_at`:
        the moment of its schedule it runs for (None: run now, by hand)."""
        kind = kind_of(job.name)
        config = self.config()
        try:
            release_id, workload = live_workload(Deployer(spec, config, self.db, self.report), engine, env)
        finally:
            config.close()
        name = L.scoped_name(spec.app, env, f"job-{job.name}", int(due_at if due_at is not None else self.clock()))
        if any(c.name == name for c in engine.task_containers(spec.app, env)):
            name = f"{name}-{time.time_ns() % 1_000_000}"  # run-now in the same second as a scheduled run
        container = create_one_off(engine, workload, spec.task_service(job.service), kind, job.command, name,
                                   environment={"DOCKYARD_JOB": job.name, "DOCKYARD_RELEASE": release_id})
        try:
            self.db.start_task(spec.app, env, release_id, name, kind, due_at)
            engine.start_replica(container.id, name)
        except (EngineError, DockyardError):
            remove_one_off(engine, container)
            self.db.end_task(spec.app, env, release_id, name, "failed", None, 0.0, "could not start", kind)
            raise
        return Started(job.name, name, release_id)

    def run_now(self, spec: AppSpec, env: str, job: JobSpec, engine: Engine, progress: Report) -> TaskRun:
        """`dockyard jobs run-now`: a run started now and waited for, its output passed on as it is
        written; its concurrency is kept (forbid: refused while a run of it runs)."""
        running = [c for c in self.collect(spec, env, engine) if c.labels.get(L.TASK) == kind_of(job.name)]
        if running and job.concurrency == "forbid":
            raise JobBusy(f"{spec.app}/{env}: job {job.name} is running ({running[0].name}) and says "
                          "concurrency: forbid", hint="wait for it to end, or stop it with docker stop NAME")
        for container in running:
            self._end(spec.app, env, engine, container, "replaced", stop=True)
        run = self.start(spec, env, job, engine, None)
        container = next(c for c in engine.task_containers(spec.app, env) if c.name == run.container)
        waited = engine.await_task(container.id, container.name, job.timeout, progress=progress)
        result = self._end(spec.app, env, engine, container, "timed out" if waited.timed_out else None)
        time.sleep(LOG_GRACE)  # for the host's log forwarder, then it goes
        remove_one_off(engine, container)
        return result

    def collect(self, spec: AppSpec, env: str, engine: Engine) -> list[ReplicaFacts]:
        """Record and remove every job container that ended; stop the ones past their timeout. The
        job containers that still run (by hand too) are returned."""
        jobs = {job.name: job for job in spec.jobs}
        running = []
        for container in self.containers(spec.app, env, engine):
            name = container.labels.get(L.TASK, "").removeprefix("job.")
            job, run = jobs.get(name), self._run_of(spec.app, env, name, container.name)
            age = time.time() - run.started_at if run is not None else 0.0  # durations on the wall clock
            timeout = job.timeout if job is not None else float("inf")
            if run is not None and run.due_at is None and age <= timeout + HAND_GRACE:
                if container.running:  # run by hand: whoever ran it waits for it, records it and removes it
                    running.append(container)
                continue
            if run is not None and run.ended:  # recorded: it waits out its grace for the forwarder
                if ended_long_enough(container):
                    remove_one_off(engine, container)
                continue
            if container.running:
                if age > timeout:
                    self._end(spec.app, env, engine, container, "timed out", stop=True)
                else:
                    running.append(container)
                continue
            self._end(spec.app, env, engine, container, None)
        return running

    def containers(self, app: str, env: str, engine: Engine) -> list[ReplicaFacts]:
        """The environment's job containers."""
        return [c for c in engine.task_containers(app, env) if c.labels.get(L.TASK, "").startswith("job.")]

    def _run_of(self, app: str, env: str, job: str, container: str) -> TaskRecord | None:
        return next((r for r in self.db.task_runs(app, env, kind_of(job), limit=20) if r.container == container),
                    None)

    def _end(self, app: str, env: str, engine: Engine, container: ReplicaFacts, status: str | None,
             stop: bool = False) -> TaskRun:
        """How the run ended (`status` says it when the server ended it), recorded; the container removed."""
        job = container.labels.get(L.TASK, "").removeprefix("job.")
        result = engine.await_task(container.id, container.name, KILL_WAIT if stop else 1.0)
        run = self._run_of(app, env, job, container.name)
        ended = container.ended_at or time.time()  # when it ended, not when this pass saw it
        seconds = max(0.0, ended - run.started_at) if run is not None else result.seconds
        said = status or result.status
        self.db.end_task(app, env, container.labels.get(L.RELEASE, ""), container.name, said, result.exit_code,
                         seconds, result.output[-4096:], kind_of(job))
        if not stop and ended_long_enough(container):  # else on a later pass, once the forwarder read it
            remove_one_off(engine, container)
        summary = f"{said}" + (f" (exit {result.exit_code})" if result.exit_code not in (None, 0) else "")
        self.report(f"{app}/{env}: job {job} ({container.name}) {summary} after {seconds:.1f}s")
        AuditLog(self.db).record(ACTOR, "jobs", f"job {job}", f"{app}/{env}",
                                 "ok" if said == "succeeded" else f"failed: {summary}", container.name)
        if said != "succeeded" and said != "replaced":
            self._failed(app, env, job, f"{summary} after {seconds:.1f}s", container.name)
        return result

    def _skip(self, app: str, env: str, job: str, due_at: float, why: str) -> None:
        name = L.scoped_name(app, env, f"job-{job}", int(due_at))
        self.db.start_task(app, env, "", name, kind_of(job), due_at)
        self.db.end_task(app, env, "", name, "skipped", None, 0.0, why, kind_of(job))
        self.report(f"{app}/{env}: job {job} {why}")

    def _failed(self, app: str, env: str, job: str, summary: str, container: str = "") -> None:
        emit(self.db, f"job:{app}:{env}:{job}:{container or time.time_ns()}", "job.failed", app, env,
             f"{app}/{env}: job {job} {summary}", job=job, container=container)



def enabled_specs(store: JobStore, report: Report) -> list[AppSpec]:
    """The dockyard.yml of every app of `dockyard jobs enable`; one that does not load is told, skipped."""
    specs = []
    for app, path in store.apps():
        try:
            specs.append(load_spec(Path(path)))
        except DockyardError as exc:
            report(f"{app} ({path}) skipped: {exc.message.splitlines()[0]}")
    return specs
