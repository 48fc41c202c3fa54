"""One change at a time per app and environment, and the locks people take by hand.

Two files per environment under $DOCKYARD_HOME/locks:
- `APP_ENV.lock`: an flock that every deploy, rollback, promote, scale, down, accessory and backup
  change holds for its duration. The kernel drops it when the holder dies, so a crashed deploy
  never holds the environment (its lease is its process). Inside: who holds it, doing what, since
  when, so a refusal names them. The balancer watch takes it for a few milliseconds each round,
  so a change that finds it held tries again for up to CONTENDED seconds before it is refused.
- `APP_ENV.hand`: a lock taken by hand (`dockyard lock acquire ENV -m WHY`). It holds until
  released (`lock release`, `--force` for someone else's), whatever process took it, and every
  change is refused while it is there, the taker's own too (a lock is a lock). Repairs that put
  back what the environment already runs (the balancer watch, status) are not changes.

A change refused now may wait instead: `--wait 5m` (`patience`), and the pipeline queues behind a
lock (it waits as long as it takes, saying for whom).
"""

from __future__ import annotations

import contextvars
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from dockyard import settings
from dockyard.errors import DeployError
from dockyard.vocabulary import rfc3339

CONTENDED = 2.0  # seconds: longer than any watch round, far shorter than any deploy
POLL = 0.25  # seconds between looks while waiting for a holder to finish

_patience: contextvars.ContextVar[float] = contextvars.ContextVar("lock_patience", default=0.0)
_waiting_note: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "lock_waiting_note", default=None)
# The environments this context holds: a change inside another of the same environment (a hook's
# rollback inside its deploy) goes on under the outer one's lock instead of waiting for itself.
_held: contextvars.ContextVar[frozenset[tuple[str, str]]] = contextvars.ContextVar("held_locks", default=frozenset())


class EnvLocked(DeployError):
    """The environment is held by another change or by a lock taken by hand; nothing was done."""

    def __init__(self, app: str, env: str, holder: Holder) -> None:
        hint = (f"it holds until `dockyard lock release {env}` (--force for someone else's, audited); or wait "
                "for it with --wait 30m") if holder.by_hand else "try again when it ends, or wait with --wait 5m"
        super().__init__(f"{app}/{env} is locked: {holder.describe()}", hint=hint)
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    user: str
    doing: str  # deploy, rollback, scale, ... or "by hand"
    since: float  # epoch seconds
    pid: int | None = None
    message: str = ""

    @property
    def by_hand(self) -> bool:
        return self.doing == "by hand"

    def describe(self, now: float | None = None) -> str:
        age = max(0, int((now or time.time()) - self.since))
        ago = f"{age // 3600} h {age % 3600 // 60} min" if age >= 3600 else f"{age // 60} min {age % 60} s"
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since))
        who = f"{self.user} ({self.doing}{f', pid {self.pid}' if self.pid else ''})"
        why = f": {self.message!r}" if self.message else ""
        return f"held by {who} since {when} ({ago} ago){why}"

    def as_json(self) -> dict[str, object]:
        """In the JSON vocabulary (vocabulary.py): the moment in RFC 3339, null for what is absent."""
        return {"user": self.user, "doing": self.doing, "since": rfc3339(self.since), "pid": self.pid,
                "message": self.message or None, "by_hand": self.by_hand}

    @classmethod
    def parse(cls, data: bytes) -> Holder | None:
        try:
            fields = orjson.loads(data)
            return cls(user=str(fields["user"]), doing=str(fields["doing"]), since=float(fields["since"]),
                       pid=int(fields["pid"]) if fields.get("pid") else None, message=str(fields.get("message", "")))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


def _paths(app: str, env: str) -> tuple[Path, Path]:
    directory = settings.private_dir(settings.home() / "locks")
    stem = f"{app}_{env}"  # "_" is in no name: app a-b env c never waits for app a env b-c
    return directory / f"{stem}.lock", directory / f"{stem}.hand"


def hand_lock(app: str, env: str) -> Holder | None:
    """The lock taken by hand on the environment, if any."""
    try:
        return Holder.parse(_paths(app, env)[1].read_bytes())
    except FileNotFoundError:
        return None


def running_holder(app: str, env: str) -> Holder | None:
    """The change that holds the environment now, if any (its flock is held)."""
    path = _paths(app, env)[0]
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            data = os.pread(fd, 4096, 0)
            return Holder.parse(data) or Holder(user="unknown", doing=data.decode(errors="replace").strip() or
                                                "a change", since=os.fstat(fd).st_mtime)
        return None  # nobody holds it
    finally:
        os.close(fd)


@contextmanager
def patience(seconds: float, note: Callable[[str], None] | None = None) -> Iterator[None]:
    """Changes made inside wait up to `seconds` for a holder to finish instead of being refused;
    `note` hears once whom they wait for."""
    tokens = _patience.set(seconds), _waiting_note.set(note)
    try:
        yield
    finally:
        _patience.reset(tokens[0])
        _waiting_note.reset(tokens[1])


@contextmanager
def env_lock(app: str, env: str, wait: bool = False, contended: float = CONTENDED, doing: str = "deploy",
             mind_hand_lock: bool = True) -> Iterator[None]:
    """Hold the environment for a change; `wait`: as long as it takes, else `contended` seconds or
    the caller's `patience`, whichever is longer. `mind_hand_lock=False` for repairs only. Held
    already by this context: it goes on under that lock."""
    if (app, env) in _held.get():
        yield
        return
    lock_path, _ = _paths(app, env)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = float("inf") if wait else time.monotonic() + max(contended, _patience.get())
    told = False
    try:
        while True:
            blocker = hand_lock(app, env) if mind_hand_lock else None
            if blocker is None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    # taken by hand between the look and the flock (`lock acquire` holds the flock too)?
                    blocker = hand_lock(app, env) if mind_hand_lock else None
                    if blocker is None:
                        break
                    fcntl.flock(fd, fcntl.LOCK_UN)
                except BlockingIOError:
                    blocker = Holder.parse(os.pread(fd, 4096, 0)) or Holder(
                        user="unknown", doing="a change", since=os.fstat(fd).st_mtime)
            # a hand lock is waited for only when asked (--wait, the pipeline), never by default
            patient = _patience.get() > 0 or (wait and not blocker.by_hand)
            if time.monotonic() >= deadline or (blocker.by_hand and not patient):
                raise EnvLocked(app, env, blocker)
            note = _waiting_note.get()
            if patient and note is not None and not told:
                note(f"waiting for {app}/{env}: {blocker.describe()}")
                told = True
            time.sleep(min(POLL if patient else 0.02, max(0.0, deadline - time.monotonic())))
        me = Holder(user=settings.author(), doing=doing, since=time.time(), pid=os.getpid())
        os.ftruncate(fd, 0)
        os.pwrite(fd, orjson.dumps(asdict(me)), 0)
        token = _held.set(_held.get() | {(app, env)})
        try:
            yield
        finally:
            _held.reset(token)
    finally:
        os.close(fd)


def refuse_if_locked_by_hand(app: str, env: str) -> None:
    """Before a change that writes something of its own first (a scale override): refused now, as the
    change itself would be, unless the caller waits (`patience`)."""
    held = hand_lock(app, env)
    if held is not None and _patience.get() <= 0:
        raise EnvLocked(app, env, held)


def take_by_hand(app: str, env: str, message: str, user: str | None = None) -> Holder:
    """Lock the environment by hand (as `user`: the server's caller, else this user): refused
    (EnvLocked) while a change or another hand lock holds it."""
    with env_lock(app, env, doing="lock"):
        holder = Holder(user=user or settings.author(), doing="by hand", since=time.time(), message=message)
        settings.replace_private(_paths(app, env)[1], orjson.dumps(asdict(holder)))
    return holder


def release_by_hand(app: str, env: str, force: bool = False, user: str | None = None) -> Holder | None:
    """Remove the hand lock; someone else's (not `user`'s, else this user's) only with `force`. The
    lock that was, or None."""
    held = hand_lock(app, env)
    if held is None:
        return None
    if held.user != (user or settings.author()) and not force:
        raise DeployError(f"{app}/{env}: the lock is {held.describe()}, not yours",
                          hint=f"dockyard lock release {env} --force (recorded in the audit log)")
    _paths(app, env)[1].unlink(missing_ok=True)
    return held
