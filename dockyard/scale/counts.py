"""How many replicas a deploy starts when the autoscaler (or `dockyard scale`) has a say.

A deploy must not fight the autoscaler: a service with `scaling:` keeps the count that serves
now (the autoscaler's last decision, read back from the engine), clamped to min..max; a manual
override wins over both. Without scaling and without an override the spec's count is used.
`plan_counts` is pure; `deploy_counts` reads the facts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockyard.scale.store import ScaleStore

if TYPE_CHECKING:
    from dockyard.engine.interface import Engine
    from dockyard.spec import AppSpec
    from dockyard.state.db import StateDB


def plan_counts(spec: AppSpec, env: str, serving: dict[str, int], overrides: dict[str, int]) -> dict[str, int]:
    """service -> replicas to deploy; services left out get the spec's count."""
    scaling = spec.environment(env).scaling
    counts: dict[str, int] = {}
    for name in spec.services:
        rule = scaling.get(name)
        if name in overrides:
            counts[name] = max(rule.min, min(rule.max, overrides[name])) if rule else overrides[name]
        elif rule is not None and serving.get(name):
            counts[name] = max(rule.min, min(rule.max, serving[name]))
    return {k: v for k, v in counts.items() if v > 0}


def deploy_counts(spec: AppSpec, env: str, engine: Engine, db: StateDB) -> dict[str, int]:
    store = ScaleStore(db)
    overrides = {name: o.replicas for name in spec.services if (o := store.override(spec.app, env, name))}
    scaled = [n for n in spec.environment(env).scaling if n in spec.services and n not in overrides]
    if not scaled:
        return plan_counts(spec, env, {}, overrides)
    from dockyard.scale.facts import serving  # the balancers' and agent's readers: only where scaling is

    now = {name: len(serving(engine, spec, env, name)) for name in scaled}
    return plan_counts(spec, env, now, overrides)
