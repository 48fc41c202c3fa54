"""Promotion and rollback: both redeploy a release that already exists, never a rebuild.

Promotion moves the image digest that runs (and passed its tests) in one environment to the
next, with the target's own configuration. Rollback restores the previous release of an
environment: its image and its configuration revision together.
"""

from __future__ import annotations

from dockyard.build.registry import copy_to_registry, registry_of, split_ref
from dockyard.deploy.deployer import Deployer, registry_host
from dockyard.deploy.history import rollback_pair
from dockyard.deploy.outcome import DeployOutcome
from dockyard.errors import DeployError, NotFound


def live_image(deployer: Deployer, env: str) -> tuple[str, str]:
    """(release id, image ref) of the release that runs in `env`."""
    live = deployer.db.live_release(deployer.spec.app, env)
    if live is None:
        raise NotFound(f"{deployer.spec.app}/{env} has no live release to promote",
                       hint=f"deploy it first: dockyard deploy {env}")
    return live.release_id, live.image


def image_in_registry(deployer: Deployer, image: str, registry: str | None) -> str:
    """The same image as it is stored in `registry`, copied there if it is not yet."""
    repo, digest = split_ref(image)
    if registry is None or registry_of(repo) == registry:
        return image
    app = deployer.spec.app
    for tag_registry, (pushed_repo, pushed_digest) in deployer.db.sibling_pushes(app, repo, digest).items():
        if tag_registry == registry:
            return f"{pushed_repo}@{pushed_digest}"
    engine = deployer.parts.engines("local")
    try:
        return copy_to_registry(engine, image, f"promoted-{(digest or repo).split(':')[-1][:12]}", registry, app)
    finally:
        engine.close()


def promote(deployer: Deployer, source: str, target: str | None = None, dry_run: bool = False,
            skip_tests: bool = False) -> DeployOutcome:
    spec = deployer.spec
    spec.environment(source)
    target = target or spec.next_env(source)
    if target is None:
        raise DeployError(f"{source} is the last environment; there is nothing to promote to")
    spec.environment(target)
    release, image = live_image(deployer, source)
    image = image_in_registry(deployer, image, registry_host(spec, target))
    return deployer.deploy(target, image=image, dry_run=dry_run, note=f"promoted from {source} ({release})",
                           skip_tests=skip_tests)


def rollback(deployer: Deployer, env: str, with_release_task: bool = False) -> DeployOutcome:
    spec = deployer.spec
    spec.environment(env)
    live, previous = rollback_pair(deployer.db, spec.app, env)
    note = f"rollback to {previous.release_id} (from {live.release_id})"
    if not with_release_task:  # its task runs before a colour starts: no switch back then
        engine = deployer.parts.engines(spec.environment(env).engine)
        try:  # blue-green, inside its window: a switch, no container starts
            switched = deployer.strategy(engine, env).switch_back(previous, note)
        finally:
            engine.close()
        if switched is not None:
            return switched
    # a rollback restores a release that passed its tests: it runs none (a test of the commit that broke
    # the environment could keep it from going back)
    return deployer.deploy(env, image=previous.image, config_revision=previous.config_revision,
                           note=note, skip_tests=True, release_task="again" if with_release_task else "skip",
                           hooks=False)
