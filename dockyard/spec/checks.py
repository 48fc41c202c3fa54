"""Checks across sections of dockyard.yml: names that must refer to something defined.

They read the plain data, not the model, so they still run when some values are
malformed and their problems are reported together with the schema problems.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dockyard.spec.accessory import accessory_refs
from dockyard.spec.hints import unknown_ref
from dockyard.spec.locate import Loc
from dockyard.spec.previews import PLACEHOLDER, PreviewsSpec, preview_number
from dockyard.spec.strategies import StrategyTraits, traits

Problem = tuple[Loc, str]


def _mapping(data: dict[str, Any], key: str) -> dict[Any, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _requests_need_balancer(at: Loc, scaling: dict[Any, Any]) -> list[Problem]:
    """The requests metric is the balancer's counter: only a blue-green environment has one."""
    why = "requests are counted by the environment's balancer: needs strategy: blue-green with a router"
    problems: list[Problem] = []
    for service, rule in scaling.items():
        if not isinstance(rule, dict):
            continue
        if rule.get("requests_target") is not None:
            problems.append(((*at, "scaling", service, "requests_target"), why))
        alarms = rule.get("alarms")
        for index, alarm in enumerate(alarms if isinstance(alarms, list) else []):
            if isinstance(alarm, dict) and alarm.get("metric") == "requests":
                problems.append(((*at, "scaling", service, "alarms", index, "metric"), why))
    return problems


def check_references(data: dict[str, Any]) -> list[Problem]:
    """Registries, tests and services named by environments must exist; blue-green needs a router."""
    problems: list[Problem] = []
    registries, services, tests = (list(_mapping(data, k)) for k in ("registries", "services", "tests"))
    problems += _health_needs_port(_mapping(data, "services"))
    problems += _one_writer(_mapping(data, "services"), _mapping(data, "environments"))
    problems += _accessories(data)
    problems += _one_offs(data, services)
    router_ports: dict[tuple[Any, Any], str] = {}
    for name, env in _mapping(data, "environments").items():
        if not isinstance(env, dict):
            continue
        at: Loc = ("environments", name)
        registry = env.get("registry")
        if isinstance(registry, str) and registry not in registries:
            problems.append(((*at, "registry"), unknown_ref("registry", registry, registries, "registries")))
        names = env.get("tests")
        for index, test in enumerate(names if isinstance(names, list) else []):
            if isinstance(test, str) and test not in tests:
                problems.append(((*at, "tests", index), unknown_ref("test", test, tests, "tests")))
        for section in ("scaling", "replicas"):
            for service in _mapping(env, section):
                if service not in services:
                    problems.append(
                        ((*at, section, service), unknown_ref("service", service, services, "services"))
                    )
        switching = traits(env.get("strategy"))
        if not switching.colors:
            problems += _requests_need_balancer(at, _mapping(env, "scaling"))
        problems += _canary(at, env, switching)
        router = env.get("router")
        if switching.colors and router is None:
            problems.append(((*at, "strategy"), f"{switching.name} needs a router: {{live: PORT, preview: PORT}}"))
        if isinstance(router, dict):
            problems += _router_clash(at, env.get("engine") or "local", router, router_ports)
    environments = list(_mapping(data, "environments"))
    problems += _previews(data, environments)
    for pattern, names in _mapping(_mapping(data, "pipeline"), "branches").items():
        for index, env_name in enumerate(names if isinstance(names, list) else []):
            if isinstance(env_name, str) and env_name not in environments:
                problems.append((("pipeline", "branches", pattern, index),
                                 unknown_ref("environment", env_name, environments, "environments")))
    return problems


def _previews(data: dict[str, Any], environments: list[Any]) -> list[Problem]:
    """A preview copies an environment that is not production (the last of the promotion path), and
    neither its name (pr-N) nor its domain can be an environment's."""
    previews = data.get("previews")
    if not isinstance(previews, dict):
        return []
    problems: list[Problem] = []
    source = previews.get("from")
    if isinstance(source, str):
        if source not in environments:
            problems.append((("previews", "from"), unknown_ref("environment", source, environments, "environments")))
        elif source == environments[-1]:
            problems.append((("previews", "from"), f"{source} is the last environment of the promotion path "
                             "(production): a preview never gets its engine's place, configuration or secrets; "
                             "copy one before it (staging)"))
    for name in environments:
        if isinstance(name, str) and preview_number(name) is not None:
            problems.append((("environments", name), f"{name} is a pull request preview's name (pr-N): "
                             "name the environment otherwise"))
    template = previews.get("domain")
    if isinstance(template, str) and PLACEHOLDER in template:
        sample = PreviewsSpec.model_construct(domain=template.strip().rstrip(".").lower())
        for name, env in _mapping(data, "environments").items():
            domains = env.get("domains") if isinstance(env, dict) else None
            served: list[tuple[Loc, Any]] = [(("environments", name, "domains", index), host) for index, host
                                             in enumerate(domains if isinstance(domains, list) else [])]
            served += [(("environments", name, "redirects", host), host) for host in _mapping(env, "redirects")]
            for at, host in served:  # the names the edge serves it under, its redirects' too
                if isinstance(host, str) and sample.matches(host.strip().rstrip(".").lower()):
                    problems.append((at, f"{host} is a name previews.domain gives a preview: a preview never "
                                         "answers under an environment's name"))
    return problems


def _one_offs(data: dict[str, Any], services: list[Any]) -> list[Problem]:
    """The release task, hooks and jobs name defined services and environments; job names are unique."""
    problems: list[Problem] = []
    hooks = _mapping(data, "hooks")
    owners: list[tuple[Loc, Any]] = [(("release",), data.get("release"))]
    owners += [(("hooks", name), hook) for name, hook in hooks.items()]
    jobs = data.get("jobs")
    jobs = jobs if isinstance(jobs, list) else []
    owners += [(("jobs", index), job) for index, job in enumerate(jobs)]
    for at, owner in owners:
        service = owner.get("service") if isinstance(owner, dict) else None
        if isinstance(service, str) and service not in services:
            problems.append(((*at, "service"), unknown_ref("service", service, services, "services")))
    environments, seen = list(_mapping(data, "environments")), dict[str, int]()
    for index, job in enumerate(jobs):
        if not isinstance(job, dict):
            continue
        name = job.get("name")
        if isinstance(name, str) and name in seen:
            problems.append((("jobs", index, "name"), f"job {name!r} is defined twice (also jobs[{seen[name]}]): "
                                                      "each job needs a name of its own"))
        elif isinstance(name, str):
            seen[name] = index
        listed = job.get("environments")
        for position, env in enumerate(listed if isinstance(listed, list) else []):
            if isinstance(env, str) and env not in environments:
                problems.append((("jobs", index, "environments", position),
                                 unknown_ref("environment", env, environments, "environments")))
    return problems


def _accessories(data: dict[str, Any]) -> list[Problem]:
    """An accessory's name is its host name on the environment's network, so no service may have
    it; environments list defined accessories; a service's `${accessories.NAME.FIELD}` names one
    that every environment runs."""
    problems: list[Problem] = []
    services, accessories = _mapping(data, "services"), list(_mapping(data, "accessories"))
    for name in accessories:
        if name in services:
            problems.append((("accessories", name), f"accessory {name!r} has the name of a service: both would be "
                                                    f"the host {name!r} on the environment's network; rename one"))
    runs: dict[Any, list[Any]] = {}
    for env_name, env in _mapping(data, "environments").items():
        listed = env.get("accessories") if isinstance(env, dict) else None
        runs[env_name] = accessories if not isinstance(listed, list) else [a for a in listed if a in accessories]
        for index, name in enumerate(listed if isinstance(listed, list) else []):
            if isinstance(name, str) and name not in accessories:
                problems.append((("environments", env_name, "accessories", index),
                                 unknown_ref("accessory", name, accessories, "accessories")))
    for service_name, service in services.items():
        for key, value in _mapping(service if isinstance(service, dict) else {}, "env").items():
            for ref, _field in accessory_refs(value if isinstance(value, str) else ""):
                without = [e for e, names in runs.items() if ref not in names]
                if without:
                    problems.append((("services", service_name, "env", key),
                                     f"${{accessories.{ref}...}}: environment {without[0]!r} runs no accessory "
                                     f"{ref!r} (it runs: {', '.join(runs[without[0]]) or 'none'})"))
    return problems


def _writers(service: Any) -> list[str]:
    """The names of a service's volumes written by one container at a time (not read_only, not shared)."""
    volumes = service.get("volumes") if isinstance(service, dict) else None
    return [str(v.get("name")) for v in (volumes if isinstance(volumes, list) else [])
            if isinstance(v, dict) and not v.get("read_only") and not v.get("shared")]


def _one_writer(services: dict[Any, Any], environments: dict[Any, Any]) -> list[Problem]:
    """A volume that is not `shared` is written by one container at a time: its service runs one
    replica, in no blue-green environment (whose two colours run at once), never scaled out."""
    problems: list[Problem] = []
    fix = "set shared: true on the volume if the app allows several writers, or run one replica"
    for name, service in services.items():
        writers = _writers(service)
        if not writers:
            continue
        volume = f"volume {writers[0]} of {name} is written by one container at a time ({fix})"
        replicas = service.get("replicas")
        if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas > 1:
            problems.append((("services", name, "replicas"), f"{replicas} replicas: {volume}"))
        for env_name, env in environments.items():
            if not isinstance(env, dict):
                continue
            at: Loc = ("environments", env_name)
            switching = traits(env.get("strategy"))
            if switching.colors:
                problems.append(((*at, "strategy"), f"{switching.name} runs two colours at once: {volume}"))
            count = _mapping(env, "replicas").get(name)
            if isinstance(count, int) and not isinstance(count, bool) and count > 1:
                problems.append(((*at, "replicas", name), f"{count} replicas: {volume}"))
            rule = _mapping(env, "scaling").get(name)
            most = rule.get("max") if isinstance(rule, dict) else None
            if isinstance(most, int) and not isinstance(most, bool) and most > 1:
                problems.append(((*at, "scaling", name, "max"), f"scaled out to {most} replicas: {volume}"))
    return problems


def _health_needs_port(services: dict[Any, Any]) -> list[Problem]:
    """A probe from outside (path, or a TCP connect) needs the service's port; a command runs inside."""
    return [
        (("services", name, "health"), "needs 'port' on the service: the check is an HTTP GET or a TCP connect "
                                       "on that port; a service without one checks with command: [...]")
        for name, service in services.items()
        if isinstance(service, dict) and isinstance(service.get("health"), dict) and service.get("port") is None
        and service["health"].get("command") is None
    ]


def _canary(at: Loc, env: dict[Any, Any], switching: StrategyTraits) -> list[Problem]:
    """strategy: canary has its steps, and names at the edge, where the requests are split; a watch
    (any other strategy) has names at the edge too."""
    if env.get("watch") is not None and switching.canary:
        return [((*at, "watch"), "strategy: canary judges its release in its steps (canary: analysis:)")]
    if env.get("watch") is not None and not env.get("domains"):
        return [((*at, "watch"), "a release is watched at the host's edge: it needs domains:")]
    if not switching.canary:
        return [((*at, "canary"), "is for strategy: canary")] if env.get("canary") is not None else []
    if env.get("canary") is None:
        return [((*at, "strategy"), "canary needs its steps: canary: {steps: [{weight: 10, pause: 2m}, ...]}")]
    if not env.get("domains"):
        return [((*at, "strategy"), "canary splits requests at the host's edge: it needs domains:")]
    return []


def _router_clash(
    at: Loc, engine: Any, router: dict[Any, Any], seen: dict[tuple[Any, Any], str]
) -> list[Problem]:
    """Two environments on one engine cannot both listen on the same host port."""
    problems: list[Problem] = []
    for side in ("live", "preview"):
        port = router.get(side)
        if not isinstance(port, int) or isinstance(port, bool):
            continue
        owner = seen.setdefault((engine, port), at[-1])
        if owner != at[-1]:
            problems.append(
                (
                    (*at, "router", side),
                    f"port {port} is already used by environment {owner!r} on engine {engine!r}",
                )
            )
    return problems


def check_templates(data: dict[str, Any], base_dir: Path) -> list[Problem]:
    """Config templates must exist next to dockyard.yml, found now rather than mid-deploy."""
    config = data.get("config")
    files = _mapping(config, "files") if isinstance(config, dict) else {}
    problems: list[Problem] = []
    for target, template in files.items():
        if isinstance(template, str) and template and not (base_dir / template).is_file():
            problems.append(
                (("config", "files", target), f"template file {template!r} not found (looked in {base_dir})")
            )
    return problems
