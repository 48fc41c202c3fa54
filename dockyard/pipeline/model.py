"""Pure pipeline planning: which steps a commit on a branch goes through.

A run is build, push, then for each environment of the branch's path: the image tests, deploy,
the endpoint tests, and a gate before the next environment (auto or manual, from `promote`).
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.spec.model import AppSpec

ACTIVE_RUN = ("queued", "running", "waiting")
FINISHED_RUN = ("succeeded", "failed", "cancelled", "superseded", "interrupted")


@dataclass(frozen=True)
class StepDef:
    kind: str  # build | push | deploy | test | gate
    env: str
    name: str


def plan_run(spec: AppSpec, branch: str) -> list[StepDef] | None:
    """The steps of a run, or None when the branch starts no run."""
    envs = spec.pipeline.environments_for(branch, spec.env_names())
    if envs is None:
        return None
    steps = [StepDef("build", "", "build image"), StepDef("push", "", "push to registries")]
    for index, env in enumerate(envs):
        tests = [spec.tests[name] for name in spec.environment(env).tests]
        steps += [StepDef("test", env, t.name) for t in tests if t.kind == "image"]
        steps.append(StepDef("deploy", env, f"deploy to {env}"))
        steps += [StepDef("test", env, t.name) for t in tests if t.kind == "endpoint"]
        if index + 1 < len(envs):
            gate = spec.environment(env).promote
            steps.append(StepDef("gate", env, f"{gate} promotion to {envs[index + 1]}"))
    return steps
