"""Run one test of dockyard.yml in a container and report pass/fail with its output.

`image` tests run inside the built image itself, with no network. `endpoint` tests run the same
image on the environment's engine in a network of their own (dockyard/engine/sandbox.py) where
TARGET_URL (http://127.0.0.1:PORT of a replica or a balancer) is the only address that answers:
code from any branch reaches its target, never etcd, the API server, the agent or the registries.
Every test container is labelled and removed, and killed at its timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests.exceptions

from dockyard.engine.api import DockerError
from dockyard.engine.containers import NON_ROOT_USER
from dockyard.engine.facts import TestResult
from dockyard.engine.failures import Handle, HostHandle, engine_error
from dockyard.engine.sandbox import sandbox
from dockyard.errors import DeployError
from dockyard.spec.model import TestSpec

MAX_OUTPUT = 64 * 1024  # of a test's output kept in its result
MAX_FOLLOWED = 1024 * 1024  # of its output passed on line by line as it is written
FOLLOW_GRACE = 2.0  # seconds for the last lines to arrive once the test's container stopped


def target_port(target_url: str) -> int:
    parts = urlsplit(target_url)
    if parts.hostname not in ("127.0.0.1", "localhost") or parts.port is None:
        raise DeployError(f"test target {target_url} is not a 127.0.0.1 port; endpoint tests reach published ports")
    return parts.port


def run_test(engine: HostHandle, local_engine: Callable[[], HostHandle], test: TestSpec, image: str, app: str,
             env: str, target_url: str | None = None, extra_env: dict[str, str] | None = None,
             progress: Callable[[str], None] | None = None) -> TestResult:
    labels = {"dockyard.managed-test": "1", "dockyard.app": app, "dockyard.env": env, "dockyard.test": test.name}
    remove_leftovers(engine, app, env)
    if test.kind == "endpoint" and target_url:
        with sandbox(engine, target_port(target_url), labels, local_engine) as network_mode:
            return _run(engine, test, image, env, app, labels, network_mode, target_url, extra_env, progress)
    return _run(engine, test, image, env, app, labels, "none", target_url, extra_env, progress)


def remove_leftovers(engine: Handle, app: str, env: str) -> None:
    """Test containers (and their network holders) a run left when the engine died under it: they
    have no restart policy, so they stay exited until someone removes them."""
    filters = {"label": ["dockyard.managed-test=1", f"dockyard.app={app}", f"dockyard.env={env}"],
               "status": ["exited", "created", "dead"]}  # one list: the engine ORs the statuses
    try:
        for container in engine.client.containers.list(all=True, filters=filters):
            container.remove(force=True)
    except DockerError:
        return  # the test's own start says what is wrong with the engine


def _run(engine: Handle, test: TestSpec, image: str, env: str, app: str, labels: dict[str, str],
         network_mode: str, target_url: str | None, extra_env: dict[str, str] | None,
         progress: Callable[[str], None] | None) -> TestResult:
    environment = {"DOCKYARD_APP": app, "DOCKYARD_ENV": env, **(extra_env or {})}
    if target_url:
        environment["TARGET_URL"] = target_url
    start = time.monotonic()
    try:
        container = engine.client.containers.create(
            image, command=list(test.run), environment=environment, detach=True, user=NON_ROOT_USER,
            labels=labels, network_mode=network_mode, security_opt=["no-new-privileges:true"], cap_drop=["ALL"],
            pids_limit=512, mem_limit="1g",  # a test is bounded like any workload
        )
    except DockerError as exc:
        raise engine_error(f"creating the container for test {test.name}", exc) from exc
    timed_out = False
    follower: threading.Thread | None = None
    try:
        container.start()
        if progress is not None:
            follower = threading.Thread(target=follow_output, args=(engine, container.id, progress), daemon=True,
                                        name=f"test-{test.name}")
            follower.start()
        try:
            exit_code: int | None = int(container.wait(timeout=test.timeout)["StatusCode"])
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            timed_out, exit_code = True, None
            container.kill()
        if follower is not None:
            follower.join(FOLLOW_GRACE)  # its stream ends with the container: the last lines arrive
        output = container.logs(stdout=True, stderr=True).decode(errors="replace")[-MAX_OUTPUT:]
    except DockerError as exc:
        raise engine_error(f"running test {test.name}", exc) from exc
    finally:
        try:
            container.remove(force=True)
        except DockerError:
            pass
    return TestResult(test.name, exit_code == 0 and not timed_out, exit_code, output,
                      time.monotonic() - start, timed_out)


def follow_output(engine: Handle, container_id: str, progress: Callable[[str], None]) -> None:
    """Pass the test's output on a line at a time as it is written (a run page shows it live), up to
    MAX_FOLLOWED characters; the stream ends when the container stops."""
    sent, partial = 0, ""
    try:
        for chunk in engine.client.api.logs(container_id, stream=True, follow=True, stdout=True, stderr=True):
            *lines, partial = (partial + chunk.decode(errors="replace")).split("\n")
            for line in lines:
                if sent < MAX_FOLLOWED:
                    progress(line)
                sent += len(line) + 1
        if partial and sent < MAX_FOLLOWED:
            progress(partial)
    except DockerError:
        return  # the result's output, read after the wait, still has it
    if sent >= MAX_FOLLOWED:
        progress(f"(the test printed {sent // 1024} KiB; what came after the first {MAX_FOLLOWED // 1024} KiB is "
                 "not shown)")
