"""Execute one pipeline run, step by step, recording status and output of each.

A step that was interrupted (its worker died) simply runs again: build reuses the image of
its commit, push is idempotent, and deploy converges the environment to the release (the
planner also removes what an interrupted deploy left behind). A failed test stops the run
and puts that environment back on its previous release; nothing later is touched. Output and
errors are shown through the API: secrets become *** and the server's paths names (places.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dockyard.build.builder import build_and_push, push_image
from dockyard.build.git import Commit
from dockyard.config.service import ConfigService
from dockyard.deploy.deployer import Deployer, image_of_build, registry_host, used_registries
from dockyard.deploy.promote import rollback
from dockyard.deploy.verify import release_url
from dockyard.engine.client import connect
from dockyard.engine.interface import Engine
from dockyard.errors import DockyardError, Forbidden, NotFound
from dockyard.notify.emit import emit
from dockyard.pipeline import preview_steps, previews
from dockyard.pipeline.places import Places, server_places
from dockyard.pipeline.source import export_commit
from dockyard.pipeline.steplog import StepLog
from dockyard.pipeline.store import Run, RunStore, Step
from dockyard.router.colors import routed_service
from dockyard.router.edge_routes import EdgeRoutes
from dockyard.scale.deploys import new_deployer
from dockyard.spec import AppSpec, load_spec
from dockyard.spec.bounds import identity_problem
from dockyard.state.audit import audited
from dockyard.state.db import StateDB
from dockyard.state.lock import patience

# A deploy step waits this long for its environment's lock (a deploy by hand, a lock taken by hand):
# the run queues behind it rather than failing, and says for whom it waits.
PIPELINE_LOCK_WAIT = 24 * 3600.0


class StepFailed(DockyardError):
    pass


def mask(text: str, secrets: list[str]) -> str:
    for value in secrets:
        text = text.replace(value, "***")
    return text


class RunExecutor:
    def __init__(self, store: RunStore, db: StateDB, config: Callable[[], ConfigService],
                 heartbeat: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.db = db
        self.config = config
        self.heartbeat = heartbeat
        self._engines: dict[str, Engine] = {}
        self._secrets: list[str] = []
        self._places = Places({})
        # a step's kind -> what does it: (spec, step, commit, log) -> succeeded | waiting
        self._handlers: dict[str, Callable[[AppSpec, Step, Commit, Callable[[str], None]], str]] = {
            "build": self._build, "push": self._push, "deploy": self._deploy, "test": self._test,
            "gate": self._gate, "preview": self._preview, "down": self._take_down}

    def execute(self, run: Run) -> str:
        """Run the pending steps; return the run's status afterwards."""
        out = StepLog(self.db.path, run.id)
        try:
            return self._execute(run, out)
        finally:
            out.close()

    def _execute(self, run: Run, out: StepLog) -> str:
        app = self.store.app(run.app)
        self._places = server_places([(app.name, app.repo)])
        try:
            source = export_commit(run.app, app.repo, run.commit_sha)
            spec = load_spec(source / app.spec_file)
            problem = identity_problem(spec, run.app)  # checked when queued; a run never runs under another name
            if problem is not None:
                raise Forbidden(problem)
        except DockyardError as exc:
            error = self._places.hide(f"cannot read commit {run.commit_sha[:7]}: {exc.message}")
            self.store.finish_run(run.id, "failed", error)
            self._ended(run, "failed", error)
            return "failed"
        commit = Commit(sha=run.commit_sha, branch=run.branch, dirty=False, diff_hash=None)
        preview_envs = {s.env for s in self.store.steps(run.id, output=False) if spec.is_preview(s.env)}
        self._secrets = self._secret_values(spec, tuple(preview_envs))
        for step in self.store.steps(run.id, output=False):
            if step.status != "pending":
                continue
            if self.store.run(run.id).status == "cancelled":
                return "cancelled"
            self.heartbeat()
            interrupted = step.started_at is not None  # it ran before, and its worker died
            self.store.start_step(run.id, step.idx)
            log = self._logger(out, step.idx)
            try:
                if interrupted and step.kind == "deploy":
                    self._clean_interrupted_deploy(spec, step.env, log)
                outcome = self._do(step, spec, commit, log)
            except DockyardError as exc:
                log(f"error: {exc}")
                out.flush()
                self.store.end_step(run.id, step.idx, "failed")
                if step.kind == "test":
                    self._restore(spec, step.env, log)
                    out.flush()
                error = self._places.hide(mask(f"{step.name} ({step.env or 'build'}): {exc.message.splitlines()[0]}",
                                               self._secrets))
                self.store.finish_run(run.id, "failed", error)
                self._ended(run, "failed", error)
                self._notify(run, "failed", step.env, f"run #{run.id} of {run.app} failed at {error}")
                return "failed"
            out.flush()  # a reader that sees the step end has its whole output
            self.store.end_step(run.id, step.idx, outcome)
            if outcome == "waiting":
                self.store.finish_run(run.id, "waiting")
                self._notify(run, "waiting", step.env, f"run #{run.id} of {run.app} waits for approval to go on "
                             f"from {step.env}", gate=step.idx)
                return "waiting"
        self.store.finish_run(run.id, "succeeded")
        self._ended(run, "succeeded", "")
        last_env = next((s.env for s in reversed(self.store.steps(run.id, output=False)) if s.env), "")
        self._notify(run, "succeeded", last_env, f"run #{run.id} of {run.app} succeeded ({run.commit_sha[:7]} "
                     f"on {run.branch}, through {last_env or 'build'})")
        return "succeeded"

    def _notify(self, run: Run, status: str, env: str, text: str, gate: int | None = None) -> None:
        """The run's event (a gate has its own: a run may wait at more than one)."""
        event_id = f"run:{run.id}:{status}" + (f":{gate}" if gate is not None else "")
        emit(self.store.db, event_id, f"run.{status}", run.app, env, text, run=run.id, commit=run.commit_sha,
             branch=run.branch)

    def _logger(self, out: StepLog, idx: int) -> Callable[[str], None]:
        secrets, places = self._secrets, self._places
        stamp = (0, "")  # the last second's HH:MM:SS: a loud build prints thousands of lines a second

        def log(line: str) -> None:
            nonlocal stamp
            now = int(time.time())
            if now != stamp[0]:
                stamp = (now, time.strftime("%H:%M:%S", time.localtime(now)))
            out.write(idx, f"{stamp[1]} {places.hide(mask(line, secrets))}")
        return log

    def _secret_values(self, spec: AppSpec, previews: tuple[str, ...] = ()) -> list[str]:
        """The app's secret values in every environment (and the run's preview), to mask in step output
        (a test may print them)."""
        service = self.config()
        values: set[str] = set()
        for env in [*spec.env_names(), *previews]:
            try:
                values |= set(service.resolve(env, spec.app).secret_values().values())
            except DockyardError:
                continue  # no key here, or the store is down: the deploy step will say so
        # Every value, however short: a 3-character PIN is still a secret. Longest first, so a value
        # that contains another is masked whole.
        return sorted((v for v in values if v), key=len, reverse=True)

    def _do(self, step: Step, spec: AppSpec, commit: Commit, log: Callable[[str], None]) -> str:
        return self._handlers[step.kind](spec, step, commit, log)

    def _build(self, spec: AppSpec, step: Step, commit: Commit, log: Callable[[str], None]) -> str:
        result = build_and_push(self._engine("local"), self.db, spec.app, spec.base_dir / spec.build.context,
                                spec.build.dockerfile, spec.build.args, commit, [], log)
        log(f"{'reused' if result.reused else 'built'} {spec.app}:{result.tag} ({result.image_id[:19]})")
        return "succeeded"

    def _push(self, spec: AppSpec, step: Step, commit: Commit, log: Callable[[str], None]) -> str:
        for registry in used_registries(spec):
            ref = push_image(self._engine("local"), spec.app, commit.tag, registry, lambda _line: None)
            repo, digest = ref.split("@", 1)
            self.db.record_push(spec.app, commit.tag, registry, repo, digest)
            log(f"pushed {ref}")
        return "succeeded"

    def _deploy(self, spec: AppSpec, step: Step, commit: Commit, log: Callable[[str], None]) -> str:
        with audited(self.db, f"pipeline run {step.run_id}", "pipeline", "deploy", f"{spec.app}/{step.env}",
                     commit.sha):
            # a strategy that tests before the switch (blue/green, through its standby listener) does so
            # here; the others' endpoint tests are this run's own test steps (which put the old release
            # back on failure). A locked environment is waited for (the run queues behind the lock).
            with patience(PIPELINE_LOCK_WAIT, note=log):
                outcome = self._deployer(spec, log).deploy(
                    step.env, image=self._image(spec, step.env, commit),
                    skip_tests=not spec.environment(step.env).switching.tests_before_live)
        log(f"{step.env} runs release {outcome.release_id}: {' '.join(outcome.urls)}")
        return "succeeded"

    def _preview(self, spec: AppSpec, step: Step, commit: Commit, log: Callable[[str], None]) -> str:
        with audited(self.db, f"pipeline run {step.run_id}", "pipeline", "preview prepare", f"{spec.app}/{step.env}",
                     commit.sha):
            preview_steps.prepare(self.db, self.config(), spec, step.env, commit, log)
        return "succeeded"

    def _take_down(self, spec: AppSpec, step: Step, commit: Commit, log: Callable[[str], None]) -> str:
        with audited(self.db, f"pipeline run {step.run_id}", "pipeline", "preview down", f"{spec.app}/{step.env}",
                     commit.sha):
            preview_steps.take_down(self.db, self.config(), spec, step.env, log)
        return "succeeded"

    def _ended(self, run: Run, status: str, error: str) -> None:
        """A preview's run reports its end (its state, its commit's status)."""
        env = next((s.env for s in self.store.steps(run.id, output=False) if s.kind in ("deploy", "down")), "")
        urls = EdgeRoutes().env_urls(run.app, env)["live"] if env else []
        previews.run_ended(self.db, run.id, status, mask(error, self._secrets), urls[0] if urls else "")

    def _gate(self, spec: AppSpec, step: Step, commit: Commit, log: Callable[[str], None]) -> str:
        if step.name.startswith("manual"):
            log(f"waiting for approval: dockyard pipeline approve {step.run_id}")
            return "waiting"
        log("promoted automatically")
        return "succeeded"

    def _test(self, spec: AppSpec, step: Step, commit: Commit, log: Callable[[str], None]) -> str:
        test = spec.tests[step.name]
        engine = self._engine(spec.environment(step.env).engine)
        target, extra = None, {}
        if test.kind == "endpoint":  # against the release this run deployed, never another that runs
            live = self.db.live_release(spec.app, step.env)
            if live is None or live.commit_sha != commit.sha:
                raise StepFailed(f"{step.env} does not run this run's commit {commit.tag} "
                                 f"(its live release is {live.release_id if live else 'none'})")
            target = release_url(engine.observe(spec.app, step.env), live.release_id, routed_service(spec))
            if target is None:
                raise StepFailed(f"{step.env} has no running replica of release {live.release_id} to test")
            extra = {"DOCKYARD_RELEASE": live.release_id}
        image = self._image(spec, step.env, commit)
        log(f"running {test.name} ({test.kind}) {('against ' + target) if target else 'in ' + image}")
        # its output reaches the run page as it is written, a line at a time
        result = engine.run_test(test, image, spec.app, step.env, target_url=target, extra_env=extra, progress=log)
        log(result.summary())
        if not result.passed:
            raise StepFailed(result.summary())
        return "succeeded"

    def _restore(self, spec: AppSpec, env: str, log: Callable[[str], None]) -> None:
        """A failed test: put the environment back on its previous release (image and config)."""
        live = self.db.live_release(spec.app, env)
        try:
            with audited(self.db, "pipeline", "pipeline", "rollback", f"{spec.app}/{env}", "a test failed"):
                outcome = rollback(self._deployer(spec, log), env)
            log(f"{env} is back on release {outcome.release_id}")
        except NotFound:
            log(f"{env} had no earlier release; the failed one was removed")
            engine = self._engine(spec.environment(env).engine)
            self._deployer(spec, log).placement(engine, env).remove_all()
        except DockyardError as exc:
            log(f"could not restore {env}: {exc}")
        if live is not None:
            self.db.mark_release(live.seq, "failed", "failed its tests in a pipeline run")

    def _clean_interrupted_deploy(self, spec: AppSpec, env: str, log: Callable[[str], None]) -> None:
        live = self.db.live_release(spec.app, env)
        engine = self._engine(spec.environment(env).engine)
        self._deployer(spec, log).strategy(engine, env).recover(live.release_id if live else None, log)

    def _deployer(self, spec: AppSpec, log: Callable[[str], None]) -> Deployer:
        return new_deployer(spec, self.config(), self.db, log)

    def _image(self, spec: AppSpec, env: str, commit: Commit) -> str:
        ref = image_of_build(spec, env, self.db, commit.tag)
        if ref is None:
            raise StepFailed(f"{spec.app}:{commit.tag} was not pushed to {registry_host(spec, env)}")
        return ref

    def _engine(self, name: str) -> Engine:
        if name not in self._engines:
            self._engines[name] = connect(name)
        return self._engines[name]

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()
