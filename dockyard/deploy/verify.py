"""The environment's endpoint tests, run against the release a deploy made live (issue 27).

Blue/green tests through the standby listener before its switch (deploy/bluegreen.py). A rolling
or recreate deploy, on containers or Swarm, has no standby: its tests reach a replica of the new
release itself, after its replicas are healthy; a failure raises ReleaseTestFailed and the
Deployer puts the previous release back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dockyard.engine.interface import Engine
from dockyard.engine.rows import Running
from dockyard.errors import DeployError, ReleaseTestFailed
from dockyard.router.colors import routed_service
from dockyard.spec import AppSpec

Report = Callable[[str], None]


def endpoint_tests(spec: AppSpec, env: str) -> list[str]:
    """The environment's tests that run against a deployed release, in their order."""
    return [name for name in spec.environment(env).tests if spec.tests[name].kind == "endpoint"]


def release_url(rows: Iterable[Running], release_id: str, service: str) -> str | None:
    """Pure: the URL of a running replica (or task) of `service` that carries the release; one on this
    host's 127.0.0.1 first (a test reaches only those; a Swarm task may publish on another node)."""
    urls = [r.url for r in rows if r.release == release_id and r.service == service and r.running and r.url]
    return next((u for u in urls if u.startswith("http://127.0.0.1:")), urls[0] if urls else None)


def verify_release(engine: Engine, spec: AppSpec, env: str, release_id: str, image: str, report: Report) -> None:
    """Run the environment's endpoint tests against a replica of `release_id`; raise on the first failure."""
    names = endpoint_tests(spec, env)
    if not names:
        return
    url = release_url(engine.observe(spec.app, env), release_id, routed_service(spec))
    if url is None:
        raise DeployError(f"{spec.app}/{env}: no running replica of release {release_id} publishes a port to test")
    for name in names:
        report(f"test     {name}: against release {release_id} at {url}")
        result = engine.run_test(spec.tests[name], image, spec.app, env, target_url=url,
                          extra_env={"DOCKYARD_RELEASE": release_id})
        report(result.summary())
        if not result.passed:
            raise ReleaseTestFailed(f"release {release_id} failed {result.summary()} against {url}\n"
                                    f"--- output of test {name} ---\n{result.output.rstrip()[-4000:]}")
