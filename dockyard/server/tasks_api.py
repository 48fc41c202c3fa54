"""One-off tasks and deploy locks over the API (issue 31), each with the `deploy:ENV` scope of the
path's environment (reading a lock: any token that reaches the app):

- POST /apps/{app}/envs/{env}/tasks `{"command": [...], "service": "web"}`: the command in a new
  container of env's live release, as `dockyard run` does; its output streamed as server-sent events
  (`output` per line as it is written, then `end` with the exit code). The task runs to its end if
  the reader goes; its container is removed then. The audit log records who ran a task where and
  how it ended, never the command's words.
- GET, POST `{"message": "..."}`, DELETE (`?force=true` for someone else's) /apps/{app}/envs/{env}/lock:
  the lock taken by hand, under the token's name.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from dockyard.config.service import open_config_service
from dockyard.deploy.run_task import finish, start_one_off
from dockyard.engine.facts import ReplicaFacts, TaskRun
from dockyard.engine.interface import Engine
from dockyard.errors import DockyardError, UsageError
from dockyard.pipeline.store import RunStore
from dockyard.scale.deploys import new_deployer
from dockyard.server.actions import spec_of
from dockyard.server.auth import Token
from dockyard.server.deps import Auth, Db, need, source_of
from dockyard.server.events import sse
from dockyard.server.streams import Body, Holder, stream
from dockyard.state.audit import AuditLog, audited
from dockyard.state.db import StateDB
from dockyard.state.lock import hand_lock, release_by_hand, running_holder, take_by_hand

router = APIRouter(tags=["tasks"])
Deployer = Annotated[Token, Depends(need("deploy"))]
POLL = 0.05  # seconds between two looks at a task's queue of lines, on the event loop


class TaskRequest(BaseModel):
    command: list[Annotated[str, Field(max_length=4096)]] = Field(min_length=1, max_length=256)
    service: str | None = None


class LockRequest(BaseModel):
    message: str = Field(default="", max_length=500)


@router.post("/apps/{app}/envs/{env}/tasks")
def run_task(app: str, env: str, db: Db, http: Request, token: Deployer,
             body: TaskRequest | None = None) -> StreamingResponse:
    """Run a command in a new container of env's live release (deploy scope of env); its output as
    server-sent events: `output` {line}, then `end` {exit_code, status, seconds}."""
    source = source_of(http)
    store = RunStore(db)
    with audited(db, token.name, source, "run", f"{app}/{env}", detail="started"):
        if body is None:
            raise UsageError("no task in the request", hint='send {"command": ["./manage.py", "migrate"]}')
        spec = spec_of(store, store.app(app))[0]
        spec.environment(env)
        service = body.service or next(iter(spec.services))
        config = open_config_service()
        try:
            deployer = new_deployer(spec, config, db, lambda line: None, by=token.name)
            engine = deployer.parts.engines(spec.environment(env).engine)
            try:
                container = start_one_off(deployer, engine, env, service, body.command)
            except BaseException:
                engine.close()
                raise
        finally:
            config.close()
    lines: queue.SimpleQueue[str | TaskRun | DockyardError] = queue.SimpleQueue()
    threading.Thread(target=_follow, args=(engine, container, lines, token.name, source, f"{app}/{env}"),
                     name=f"task-{container.name}", daemon=True).start()
    return stream(Holder(token), lambda: _events(lines))


def _follow(engine: Engine, container: ReplicaFacts, lines: queue.SimpleQueue[str | TaskRun | DockyardError],
            actor: str, source: str, target: str) -> None:
    """The task to its end (whether anyone still reads), its lines into the queue, its end audited."""
    outcome: str
    try:
        result = finish(engine, container, progress=lines.put)
        lines.put(result)
        outcome = "ok" if result.succeeded else f"failed: {result.summary()}"
    except DockyardError as exc:
        lines.put(exc)
        outcome = f"failed: {exc.message}"
    finally:
        engine.close()
    db = StateDB()
    try:
        AuditLog(db).record(actor, source, "run", target, outcome, detail=f"ended ({container.name})")
    finally:
        db.close()


async def _events(lines: queue.SimpleQueue[str | TaskRun | DockyardError]) -> Body:
    started = time.monotonic()
    while True:
        try:
            item = lines.get_nowait()
        except queue.Empty:
            yield None
            await asyncio.sleep(POLL)
            continue
        if isinstance(item, str):
            yield sse("output", {"line": item})
        elif isinstance(item, TaskRun):
            yield sse("end", {"exit_code": item.exit_code, "status": item.status,
                              "seconds": round(item.seconds, 3)})
            return
        else:
            yield sse("end", {"exit_code": None, "status": "failed", "error": item.message,
                              "seconds": round(time.monotonic() - started, 3)})
            return


@router.get("/apps/{app}/envs/{env}/lock")
def lock_status(app: str, env: str, db: Db, token: Auth) -> dict[str, Any]:
    """Who holds env: a lock taken by hand, a change that runs now, or nobody."""
    _environment(db, app, env)
    hand, running = hand_lock(app, env), running_holder(app, env)
    return {"app": app, "env": env, "lock": hand.as_json() if hand else None,
            "running": running.as_json() if running else None}


@router.post("/apps/{app}/envs/{env}/lock")
def lock_acquire(app: str, env: str, db: Db, http: Request, token: Deployer,
                 body: LockRequest | None = None) -> dict[str, Any]:
    """Lock env by hand under the token's name (deploy scope of env): every change of it is refused
    until the lock is released."""
    with audited(db, token.name, source_of(http), "lock acquire", f"{app}/{env}"):
        _environment(db, app, env)
        holder = take_by_hand(app, env, body.message if body else "", user=token.name)
    return {"app": app, "env": env, "lock": holder.as_json()}


@router.delete("/apps/{app}/envs/{env}/lock")
def lock_release(app: str, env: str, db: Db, http: Request, token: Deployer, force: bool = False) -> dict[str, Any]:
    """Release the lock taken by hand on env: the token's own, someone else's with force=true."""
    with audited(db, token.name, source_of(http), "lock release", f"{app}/{env}", detail="--force" if force else ""):
        _environment(db, app, env)
        was = release_by_hand(app, env, force=force, user=token.name)
    return {"app": app, "env": env, "released": was is not None, "lock": was.as_json() if was else None}


def _environment(db: StateDB, app: str, env: str) -> None:
    """404 unless the registered app's dockyard.yml has the environment."""
    store = RunStore(db)
    spec_of(store, store.app(app))[0].environment(env)
