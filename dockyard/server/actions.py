"""What the server's doors do, shared by the JSON API and the dashboard's forms: the scope check
(refused and audited), the app's dockyard.yml from its repository, rollback, promotion, approval
and cancelling. Each change is written to the audit log as done by the token's name."""

from __future__ import annotations

from dockyard import settings
from dockyard.config.service import open_config_service
from dockyard.deploy.deployer import DeployOutcome
from dockyard.deploy.promote import promote as run_promote
from dockyard.deploy.promote import rollback as run_rollback
from dockyard.errors import DeployError, DockyardError, Forbidden, NotFound
from dockyard.pipeline.store import AppRecord, RunStore
from dockyard.scale.deploys import new_deployer
from dockyard.server.auth import Token
from dockyard.server.poller import app_spec, remote_head
from dockyard.spec import AppSpec
from dockyard.state.audit import AuditLog, audited
from dockyard.state.db import StateDB


def refuse_unless(db: StateDB, token: Token, scope: str, env: str | None, source: str, action: str,
                  target: str) -> None:
    """Forbidden (and an audit row of the action refused) unless the token has `scope` (deploy: in `env`)."""
    if token.allows(scope, env):
        return
    wanted = f"deploy:{env}" if scope == "deploy" and env else scope
    AuditLog(db).record(token.name, source, action, target=target, outcome=f"refused: no {wanted} scope")
    raise Forbidden(f"token {token.name!r} has no {wanted} scope (it has: {', '.join(token.scopes)})",
                    hint=f"dockyard token create --name NAME --scope {wanted.replace(':', ' --env ')}")


def refuse_outside(db: StateDB, token: Token, app: str | None, source: str, action: str) -> None:
    """Forbidden (and an audit row) when the request is about an app the token does not reach: apps
    are walls (issue 28). Said the same whether that app exists or not."""
    if app is None or token.reaches(app):
        return
    AuditLog(db).record(token.name, source, action, target=app, outcome=f"refused: the token does not reach {app}")
    raise Forbidden(f"token {token.name!r} does not reach app {app!r} (it reaches: {', '.join(token.apps)})",
                    hint="a token scoped with --app sees and changes only those apps")


def spec_of(store: RunStore, record: AppRecord) -> tuple[AppSpec, str]:
    """The app's dockyard.yml at its repository's HEAD, else at the commit of its last run: the
    registered app's, never a file a request names."""
    try:
        _, head = remote_head(record.repo)
    except DockyardError:
        head = None
    if head is None:
        last = store.runs(record.name, limit=1)
        if not last:
            raise NotFound(f"cannot read {record.repo} and {record.name} has no run yet",
                           hint="check the app's repository: dockyard app ls")
        head = last[0].commit_sha
    return app_spec(record, head), head


def _deploying(db: StateDB, app: str, token: Token, log: list[str], change: str, env: str) -> DeployOutcome:
    store = RunStore(db)
    spec = spec_of(store, store.app(app))[0]
    config = open_config_service()
    try:
        deployer = new_deployer(spec, config, db, log.append, by=token.name)
        if change == "rollback":
            return run_rollback(deployer, env)
        return run_promote(deployer, env)
    finally:
        config.close()


def rollback(db: StateDB, app: str, env: str, token: Token, source: str) -> tuple[DeployOutcome, list[str]]:
    """Restore env's previous release (a switch inside a blue/green rollback window)."""
    refuse_unless(db, token, "deploy", env, source, "rollback", f"{app}/{env}")
    log: list[str] = []
    with audited(db, token.name, source, "rollback", f"{app}/{env}"):
        outcome = _deploying(db, app, token, log, "rollback", env)
    return outcome, log


def promote(db: StateDB, app: str, env: str, token: Token, source: str) -> tuple[DeployOutcome, list[str], str]:
    """Deploy env's live release (its image, never a rebuild) to the next environment of the path;
    the token needs the deploy scope of that next environment."""
    store = RunStore(db)
    spec = spec_of(store, store.app(app))[0]
    spec.environment(env)
    target = spec.next_env(env)
    if target is None:
        raise DeployError(f"{env} is the last environment of {app}; there is nothing to promote to")
    refuse_unless(db, token, "deploy", target, source, "promote", f"{app}/{env}")
    log: list[str] = []
    with audited(db, token.name, source, "promote", f"{app}/{env}", detail=f"to {target}"):
        outcome = _deploying(db, app, token, log, "promote", env)
    return outcome, log, target


def approve(db: StateDB, run_id: int, token: Token, source: str) -> None:
    """Approve the gate the run waits at (approve scope; never a run the same token started)."""
    refuse_unless(db, token, "approve", None, source, "run approve", f"run {run_id}")
    with audited(db, token.name, source, "run approve", f"run {run_id}"):
        RunStore(db).approve(run_id, token.name, four_eyes=settings.load().needs_four_eyes)


def cancel(db: StateDB, run_id: int, token: Token, source: str) -> None:
    """Cancel a queued, running or waiting run: trigger or approve scope."""
    with audited(db, token.name, source, "run cancel", f"run {run_id}"):
        if not (token.allows("trigger") or token.allows("approve")):
            raise Forbidden(f"token {token.name!r} has neither the trigger nor the approve scope; cancelling "
                            "needs one")
        RunStore(db).cancel(run_id, token.name)
