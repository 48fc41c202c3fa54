"""Canary rollouts over the API (issue 32): where an environment's rollout is (any token that reaches
the app), and a person's say in it with the `deploy:ENV` scope of the path's environment, audited:

- GET /apps/{app}/envs/{env}/rollout: the latest rollout, its steps' analysis and the step's window.
- POST /apps/{app}/envs/{env}/rollout/{action}: promote, promote-full, pause, resume or abort, carried
  out by the rollout's driver (or by this server, when nobody drives it); the rollout as it is then.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request

from dockyard.deploy.rollout import take_over
from dockyard.deploy.rollout_store import RolloutRow, RolloutStore
from dockyard.errors import NotFound
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
APPLIED_WITHIN = 15.0  # seconds the rollout's driver has to carry a request out


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
    the rollout once its driver carried it out (or this server, when nobody drives it)."""
    with audited(db, by, source, f"rollout {action}", f"{app}/{env}"):
        _environment(db, app, env)
        store = RolloutStore(db)
        row = store.latest(app, env)
        if row is None or not row.active:
            raise NotFound(f"{app}/{env} has no canary rollout in progress")
        store.ask(row.id, action, by)
        if running_holder(app, env) is None:  # nobody drives it: one look here, then the server's loop goes on
            take_over(row.id, lambda line: None, stop=lambda: True, once=True)
        deadline = time.monotonic() + APPLIED_WITHIN
        while (fresh := store.get(row.id)) is not None and fresh.active and fresh.request == action:
            if time.monotonic() > deadline:
                raise NotFound(f"{app}/{env}: the rollout's driver has not carried out {action} within "
                               f"{APPLIED_WITHIN:g} s; it still asks")
            time.sleep(0.2)
    return rollout_json(store.get(row.id))


def _environment(db: StateDB, app: str, env: str) -> None:
    """404 unless the registered app's dockyard.yml has the environment."""
    store = RunStore(db)
    spec_of(store, store.app(app))[0].environment(env)
