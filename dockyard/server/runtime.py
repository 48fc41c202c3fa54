"""Run `dockyard server`: uvicorn in the main thread; the pipeline worker, the poller, the
autoscaler, the balancer watch, certificate renewals, scheduled backups and notifications beside it
(loops.py).

It listens first and answers /health at once (front.py); the application and the loops, whose
imports are most of the start, are built behind it in a thread (issue 30: an answer within 1 s).

$DOCKYARD_HOME/server.pid holds the pid while it runs (git hooks then leave runs to this worker).
SIGTERM and SIGINT stop it cleanly: no new requests, the loops stop, the pid file goes. A run
still executing is left to the next start: its heartbeat stops and that worker takes it up again.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from dockyard import settings
from dockyard.errors import DockyardError
from dockyard.netcheck import check_listen, parse_listen
from dockyard.server.front import READY, Front

log = logging.getLogger("dockyard.server")
DEFAULT_LISTEN = "127.0.0.1:8700"
STOP_WAIT = 10.0


def pid_path() -> Path:
    return settings.home() / "server.pid"


def running_pid() -> int | None:
    try:
        pid = int(pid_path().read_text().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto named: asyncio turns Nagle off only on sockets whose proto is TCP, and a keep-alive
    # response whose body follows its headers in a second write would wait 40 ms for an ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DockyardError(f"cannot listen on {host}:{port}: {exc.strerror}",
                            hint="choose another port: dockyard server --listen 127.0.0.1:PORT") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def proxy_options(site: settings.Settings) -> tuple[bool, list[str]]:
    """uvicorn's handling of X-Forwarded-For/-Proto: only from the proxies settings.yml lists
    (server.trusted_proxies); with none, never (uvicorn's own default believes 127.0.0.1, so any
    local process could choose the source address the audit log records)."""
    trusted = list(site.server.trusted_proxies)
    return bool(trusted), trusted


Start = Callable[[Front, threading.Event], list[threading.Thread]]


def start_all(front: Front, stop: threading.Event) -> list[threading.Thread]:
    """The settings read, the application built and handed to the front door, then the background
    loops started. Their imports are here, after the socket listens: they are most of the start."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from dockyard.server.app import create_app

    site = settings.load()
    if not (os.environ.get("DOCKYARD_WEBHOOK_SECRET") or site.webhook_secret):
        log.warning("no webhook secret (DOCKYARD_WEBHOOK_SECRET or webhook_secret in settings.yml): "
                    "every webhook will get 401")
    app = create_app()
    proxy_headers, proxies = proxy_options(site)
    # uvicorn's own middleware, as its Config would add it (its ASGI types are not Starlette's)
    front.ready(ProxyHeadersMiddleware(app, trusted_hosts=proxies) if proxy_headers else app)  # type: ignore[arg-type]
    if stop.is_set():
        return []
    from dockyard.server import loops

    threads = loops.start(stop, app.state.login_throttle)
    front.loops = READY
    return threads


def serve(listen: str = DEFAULT_LISTEN, tls: tuple[str, str] | None = None, insecure: bool = False,
          start: Start = start_all) -> None:
    """Listen, answer /health at once (front.py), and build the rest behind it with `start`."""
    import uvicorn

    host, port = parse_listen(listen, DEFAULT_LISTEN)
    check_listen("dockyard server", host, tls is not None, insecure)
    other = running_pid()
    if other is not None and other != os.getpid():
        raise DockyardError(f"a server already runs for {settings.home()} (pid {other})",
                            hint=f"stop it first: kill {other}")
    sock = bind(host, port)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    pid_file = pid_path()
    settings.write_private(pid_file, f"{os.getpid()}\n")
    stop = threading.Event()
    front = Front()
    # X-Forwarded-* are read by the application (start_all), from the proxies settings.yml lists only
    server = uvicorn.Server(uvicorn.Config(front, interface="asgi3", log_config=None, timeout_graceful_shutdown=2,
                                           lifespan="off", ssl_certfile=tls[0] if tls else None,
                                           ssl_keyfile=tls[1] if tls else None, proxy_headers=False))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        server.should_exit = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    loops: list[threading.Thread] = []
    failed: list[Exception] = []

    def starting() -> None:
        try:
            loops.extend(start(front, stop))
        except Exception as exc:  # a bug or a broken store: said on every request, then the server stops
            log.exception("dockyard server could not start")
            failed.append(exc)
            front.failed(exc.message if isinstance(exc, DockyardError) else f"{type(exc).__name__}: {exc}")
            server.should_exit = True

    starter = threading.Thread(target=starting, name="start", daemon=True)
    starter.start()
    log.info("dockyard server on %s://%s:%d (API docs at /docs), pid %d, home %s", "https" if tls else "http",
             host, port, os.getpid(), settings.home())
    try:
        server.run(sockets=[sock])
    finally:
        stop.set()
        deadline = time.monotonic() + STOP_WAIT
        starter.join(max(0.0, deadline - time.monotonic()))
        for thread in list(loops):
            thread.join(max(0.0, deadline - time.monotonic()))
        if loops and loops[0].is_alive():
            log.warning("a run is still executing; it resumes when the server starts again")
        if running_pid() == os.getpid():
            pid_file.unlink(missing_ok=True)
        log.info("dockyard server stopped")
    if failed:
        if isinstance(failed[0], DockyardError):
            raise failed[0]
        raise DockyardError(f"the server could not start: {type(failed[0]).__name__}: {failed[0]}") from failed[0]
