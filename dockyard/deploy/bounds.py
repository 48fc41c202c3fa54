"""The site's bounds on an app (issue 28): checked before anything of a deploy, a rollback or an
accessory's boot starts, whoever asks (the CLI, the server, a pipeline run)."""

from __future__ import annotations

from dockyard import settings
from dockyard.errors import Forbidden
from dockyard.spec import AppSpec
from dockyard.spec.bounds import policy_problems


def enforce_policy(spec: AppSpec, envs: list[str] | None = None) -> None:
    """Refuse, naming each field and its bound, a spec outside the app's site policy."""
    problems = policy_problems(spec, settings.load().policy(spec.app), envs)
    if problems:
        raise Forbidden("\n".join(problems), hint=f"see the bounds with: dockyard app policy {spec.app}")
