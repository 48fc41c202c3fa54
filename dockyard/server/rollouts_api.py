"""Canary rollouts over the API (issue 32): where an environment's rollout is (any token that reaches
the app), and a person's say in it with the `deploy:ENV` scope of the path's environment, audited:

- GET /apps/{app}/envs/{env}/rollout: the latest rollout, its steps' analysis and the step's window.
- POST /apps/{app}/envs/{env}/rollout/{action}: promote, promote-full, pause, resume or abort, carried
  out by the rollout's driver (or by this server, when nobody drives it); the rollout as it is then.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request

from dockyard.deploy.rollout import ask
from dockyard.deploy.rollout_store import RolloutRow, RolloutStore
from dockyard.pipeline.store import RunStore
from dockyard.server.actions import spec_of
from dockyard.server.auth import Token
from dockyard.server.deps import Auth, Db, need, source_of
from dockyard.state.audit import audited
from dockyard.state.db import StateDB
from dockyard.state.lock import running_holder

router = APIRouter(tags=["rollouts"])
Deployer = Annotated[Token, Depends(need("deploy"))]
Action = Literal["promote", "promote-full", "pause", "resume", "abort"]


def rollout_json(row: RolloutRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    holder = running_holder(row.app, row.env) if row.active else None
    return {**row.as_json(), "driver": holder.as_json() if holder else None}


@router.get("/apps/{app}/envs/{env}/rollout")
def rollout_status(app: str, env: str, db: Db, token: Auth) -> dict[str, Any]:
    """The environment's latest canary rollout (null: none yet)."""
    _environment(db, app, env)
    return {"app": app, "env": env, "rollout": rollout_json(RolloutStore(db).latest(app, env))}


@router.post("/apps/{app}/envs/{env}/rollout/{action}")
def rollout_action(app: str, env: str, action: Action, db: Db, http: Request, token: Deployer) -> dict[str, Any]:
    """Ask the rollout in progress to promote (a step; promote-full: to the end), pause, resume or abort."""
    return {"app": app, "env": env, "rollout": ask_rollout(db, app, env, action, token.name, source_of(http))}


def ask_rollout(db: StateDB, app: str, env: str, action: str, by: str, source: str) -> dict[str, Any] | None:
    """The action asked of env's rollout in progress (its asker's rights checked by the caller), and
    the rollout once its driver carried it out (or one look of this server, when nobody drives it)."""
    with audited(db, by, source, f"rollout {action}", f"{app}/{env}"):
        _environment(db, app, env)
        return rollout_json(ask(db, app, env, action, by))


def _environment(db: StateDB, app: str, env: str) -> None:
    """404 unless the registered app's dockyard.yml has the environment."""
    store = RunStore(db)
    spec_of(store, store.app(app))[0].environment(env)
