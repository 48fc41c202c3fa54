"""Pure pipeline planning: which steps a commit on a branch goes through.

A run is build, push, then for each environment of the branch's path: the image tests, deploy,
the endpoint tests, and a gate before the next environment (auto or manual, from `promote`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockyard.errors import Forbidden, SpecError
from dockyard.spec.bounds import changed_bounds, identity_problem, policy_problems

if TYPE_CHECKING:
    from dockyard.settings_model import AppPolicy
    from dockyard.spec.model import AppSpec

ACTIVE_RUN = ("queued", "running", "waiting")
FINISHED_RUN = ("succeeded", "failed", "cancelled", "superseded", "interrupted")


@dataclass(frozen=True)
class StepDef:
    kind: str  # build | push | deploy | test | gate
    env: str
    name: str


def plan_run(policy: AppSpec, branch: str, commit_spec: AppSpec | None = None,
             envs: list[str] | None = None) -> list[StepDef] | None:
    """The steps of a run, or None when the branch starts no run.

    `policy` is the dockyard.yml of the protected default branch: it alone says which environments
    a branch reaches, which tests each requires and which gates are manual. The commit's own spec
    (`commit_spec`) only supplies what its tests run; it must define every test the policy requires.
    `envs`: these environments, not the branch's (a pull request's preview).
    """
    spec = commit_spec or policy
    envs = envs if envs is not None else policy.pipeline.environments_for(branch, policy.env_names())
    if envs is None:
        return None
    missing = [(env, name) for env in envs for name in policy.environment(env).tests if name not in spec.tests]
    if missing:
        env, name = missing[0]
        raise SpecError([f"{spec._source}: tests.{name}: the default branch requires test {name!r} in {env}; "
                         "this commit does not define it"])
    steps = [StepDef("build", "", "build image"), StepDef("push", "", "push to registries")]
    for index, env in enumerate(envs):
        tests = [spec.tests[name] for name in policy.environment(env).tests]
        steps += [StepDef("test", env, t.name) for t in tests if t.kind == "image"]
        steps.append(StepDef("deploy", env, f"deploy to {env}"))
        steps += [StepDef("test", env, t.name) for t in tests if t.kind == "endpoint"]
        if index + 1 < len(envs):
            gate = policy.environment(env).promote
            steps.append(StepDef("gate", env, f"{gate} promotion to {envs[index + 1]}"))
    return steps


def check_commit(registered: str, commit_spec: AppSpec, default_spec: AppSpec, branch: str,
                 default_branch: str | None, policy: AppPolicy, envs: list[str]) -> None:
    """Refuse a commit that decides under whose name, where or with which rights it runs (issue 28):
    another app's name (on any branch), a field outside the site's policy, or, on a branch other than
    the default one, a bounded field changed from the default branch's value. Each problem names the
    field (file:line) and the bound."""
    problem = identity_problem(commit_spec, registered)
    if problem is not None:  # the rest would be judged against the wrong app's policy
        raise Forbidden(problem + "; not starting a run")
    problems = policy_problems(commit_spec, policy, envs)
    if branch != default_branch:
        problems += changed_bounds(commit_spec, default_spec, branch)
    if problems:
        raise Forbidden("\n".join(problems) + "\nnot starting a run",
                        hint=f"an admin sets the bounds: dockyard app policy {registered}")
