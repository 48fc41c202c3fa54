"""The package layers, held by a test (issue 13): a package imports only packages below it, no
module imports itself round a circle, and only engine/ imports docker.

The order is docs/architecture.md's. The lists of exceptions are empty; an import deferred into a
function is allowed only where it saves start-up time (DEFERRED, each with its reason), never to
hide a cycle.
"""
from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "dockyard"
ORDER = ["errors", "settings_base", "settings_model", "settings", "vocabulary", "netcheck", "spec", "plan", "engine",
         "config", "state", "build", "router", "monitor", "logs", "notify", "swarm", "deploy", "backup", "scale",
         "jobs", "pipeline", "server", "cli"]

# (importing file, imported module) that still go up. Issue 13 takes these away.
KNOWN_UPWARD: set[tuple[str, str]] = set()
# Files outside engine/ that still import docker-py.
KNOWN_DOCKER: set[str] = set()


def layer_of(rel: Path) -> str:
    if rel.name == "__main__.py":
        return "cli"  # `python -m dockyard.monitor` is a door, like the CLI
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):  # inside functions too: a deferred import is an import
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def scan() -> tuple[set[tuple[str, str]], set[str], set[str]]:
    rank = {name: i for i, name in enumerate(ORDER)}
    upward, docker_files, unknown = set(), set(), set()
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if str(rel) == "__init__.py":
            continue  # the package root holds no code of a layer
        layer = layer_of(rel)
        if layer not in rank:
            unknown.add(layer)
            continue
        for module in imports(path):
            if module.split(".")[0] == "docker" and layer != "engine":
                docker_files.add(str(rel))
            if module.startswith("dockyard."):
                target = module.split(".")[1]
                if target not in rank:
                    unknown.add(target)
                elif rank[target] > rank[layer]:
                    upward.add((str(rel), module))
    return upward, docker_files, unknown


def test_every_package_has_a_place_in_the_order() -> None:
    assert scan()[2] == set()


def test_no_new_upward_import_and_the_known_ones_are_still_there() -> None:
    upward = scan()[0]
    assert upward - KNOWN_UPWARD == set(), "an import goes up a layer (docs/architecture.md)"
    assert KNOWN_UPWARD - upward == set(), "fixed: take it off KNOWN_UPWARD"


def test_only_engine_and_the_listed_files_import_docker() -> None:
    files = scan()[1]
    assert files - KNOWN_DOCKER == set(), "only dockyard/engine/ talks to docker-py"
    assert KNOWN_DOCKER - files == set(), "fixed: take it off KNOWN_DOCKER"


def test_errors_chain_their_cause(tmp_path: Path) -> None:
    """`raise ... from exc`, never `from None`: the user sees one message, the server log the whole story."""
    from dockyard.errors import SpecError
    from dockyard.spec.loader import load_spec

    hiding = [f"{p.relative_to(ROOT)}:{n.lineno}" for p in ROOT.rglob("*.py")
              for n in ast.walk(ast.parse(p.read_text()))
              if isinstance(n, ast.Raise) and isinstance(n.cause, ast.Constant) and n.cause.value is None]
    assert hiding == []
    try:
        load_spec(tmp_path / "missing.yml")
    except SpecError as exc:
        assert isinstance(exc.__cause__, FileNotFoundError)
    else:
        raise AssertionError("a missing file must be a SpecError")


def declared_public(package: str) -> set[str]:
    init = ROOT / package / "__init__.py"
    for node in ast.walk(ast.parse(init.read_text())):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return {elt.value for elt in node.value.elts if isinstance(elt, ast.Constant)}  # type: ignore[attr-defined]
    return set()


def test_packages_are_used_only_through_their_public_face() -> None:
    """Each package's __all__ names what others may import (its public modules, or names)."""
    private = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        own = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dockyard.")):
                continue
            parts = node.module.split(".")
            if parts[1] == own or not (ROOT / parts[1]).is_dir():
                continue
            wanted = [parts[2]] if len(parts) > 2 else [alias.name for alias in node.names]
            missing = [w for w in wanted if w not in declared_public(parts[1])]
            if missing:
                private.append(f"{rel} imports {node.module}: {', '.join(missing)} is not in {parts[1]}.__all__")
    assert private == []


def test_no_import_cycle_between_packages() -> None:
    """Implied by the order with nothing going up; checked on its own so a reorder cannot hide one."""
    edges: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if str(rel) == "__init__.py":
            continue
        source = layer_of(rel)
        for module in imports(path):
            if module.startswith("dockyard.") and (target := module.split(".")[1]) != source:
                edges.setdefault(source, set()).add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert sorted(p for p in edges if reaches(p, p, {p})) == []


# Imports of dockyard modules inside functions outside cli/, and why each is deferred.
DEFERRED = {
    "config/stores.py": "etcd3gw costs ~165 ms of imports; only a site on etcd pays for it",
    "engine/client.py": "each verb loads its engine module when it runs: ps and status do not pay ~35 ms for a "
                        "deploy's writes (Swarm specs, lifecycle, volumes)",
    "engine/local_socket.py": "an engine on tcp:// is read through docker-py (engine/client.py); the agent on a "
                              "unix socket never loads it (~15 MB of its memory)",
    "logs/sinks/__init__.py": "a forwarder loads only the sinks it ships to",
    "spec/brief.py": "a brief not kept yet is made by validating the spec in full (pydantic): a kept one is read "
                     "without it",
    "settings.py": "pydantic and the settings file's models (~50 ms) only when the whole file is read or written: "
                   "a read command takes its engines and config store from the checked copy",
    "server/runtime.py": "the server listens and answers /health before it loads FastAPI, its routers and its "
                         "loops (about 1 s, several on a busy host; issue 30)",
    "logs/forwarder.py": "docker-py (~200 ms of imports) only for a forwarder that watches an engine's events: one "
                         "that scans the log folders alone starts without it",
    "deploy/describe.py": "the balancer's machinery (router/status: switchboard, nginx, colours) only for an "
                          "environment with colours: status of a rolling one does not pay ~15 ms for it",
    "deploy/health.py": "what a replica listens on (monitor's /proc parsers, ~5 ms) is read only for a wait that "
                        "goes on or fails: a deploy whose replicas answer does not load them",
    "scale/counts.py": "what serves now is read (scale/facts.py: httpx, the balancers' readers, ~40 ms) only for "
                       "a service with scaling: a deploy of one without does not load it",
    "router/edge.py": "the ACME client (acme, josepy, cryptography's x509) only when a certificate is due: ps, "
                      "status and logs read the edge's routes without it",
    "router/edge_routes.py": "a route's and the site's classes (edge_render) when there is a route to read: ps and "
                             "status on a host without an edge do not pay ~4 ms for them",
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def test_no_import_cycle_between_modules() -> None:
    """Deferred and TYPE_CHECKING imports count: a circle of files is a circle however it is hidden."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in modules:
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name in modules}
        # a submodule imports its package's __init__ implicitly; that edge is no circle of ours
        edges[name] = {m for m in found - {name} if modules[m].name != "__init__.py"}

    def circle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for nxt in edges[node]:
                if nxt == start:
                    return path
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    circles = {" -> ".join(c) for m in sorted(edges) if (c := circle_from(m))}
    assert circles == set()


def test_imports_inside_functions_only_to_save_start_up() -> None:
    deferred = set()
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if layer_of(rel) == "cli":
            continue  # the CLI loads each command's modules when that command runs
        for function in ast.walk(ast.parse(path.read_text())):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(function):
                    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dockyard"):
                        deferred.add(str(rel))
    assert deferred == set(DEFERRED)


# The engine is an interface in Dockyard's words (issue 29): outside engine/ nothing reads docker-py's
# client off an engine (`.client`, `.api`), holds docker-py's objects or reads Docker's JSON.
# Issue 29 takes these away: each set lists the files that still do, and a file fixed must leave it.
KNOWN_CLIENT: set[str] = set()
KNOWN_DOCKER_TYPES: set[str] = set()
KNOWN_DOCKER_JSON: set[str] = set()

# A `.client` that is no engine's: Starlette's `request.client` (the caller's address), boto3's factory.
OTHER_CLIENTS = {"request", "boto3", "http"}  # a web request's client, boto3's, the stdlib's http.client
DOCKER_TYPES = {"Client", "Container"}  # docker-py's, as engine/api.py names them
DOCKER_KEYS = {"NetworkSettings", "HostConfig", "GraphDriver", "UpdateStatus", "TaskTemplate", "RestartCount", "Actor",
               "timeNano", "ContainerSpec", "PortBindings", "RepoDigests"}


def client_uses(source: str) -> list[int]:
    """The lines that read `.client` or `.api` off anything but OTHER_CLIENTS (an import is no read)."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr in ("client", "api")
            and not (isinstance(node.value, ast.Name) and node.value.id in OTHER_CLIENTS)]


def docker_type_uses(source: str) -> list[int]:
    """The lines that import docker-py's types from engine/api.py, or name them through the module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "dockyard.engine.api":
            found += [node.lineno] if {a.name for a in node.names} & DOCKER_TYPES else []
        elif (isinstance(node, ast.Attribute) and node.attr in DOCKER_TYPES
              and isinstance(node.value, ast.Name) and node.value.id == "api"):
            found.append(node.lineno)
    return found


def docker_json_keys(source: str) -> list[int]:
    """The lines with a string that is one of Docker's JSON keys."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in DOCKER_KEYS]


def outside_engine(check: Callable[[str], list[int]]) -> set[str]:
    return {str(path.relative_to(ROOT)) for path in sorted(ROOT.rglob("*.py"))
            if path.relative_to(ROOT).parts[0] != "engine" and check(path.read_text())}


def test_nothing_outside_engine_reads_docker_py_off_an_engine() -> None:
    found = outside_engine(client_uses)
    assert found - KNOWN_CLIENT == set(), "use (or add) a verb of engine.interface.Engine, not its docker-py client"
    assert KNOWN_CLIENT - found == set(), "fixed: take it off KNOWN_CLIENT"


def test_nothing_outside_engine_holds_docker_py_objects() -> None:
    found = outside_engine(docker_type_uses)
    assert found - KNOWN_DOCKER_TYPES == set(), "read engine/facts.py's dataclasses, not docker-py's objects"
    assert KNOWN_DOCKER_TYPES - found == set(), "fixed: take it off KNOWN_DOCKER_TYPES"


def test_nothing_outside_engine_reads_dockers_json() -> None:
    found = outside_engine(docker_json_keys)
    assert found - KNOWN_DOCKER_JSON == set(), "parse Docker's JSON in engine/ (engine/facts.py), read the facts"
    assert KNOWN_DOCKER_JSON - found == set(), "fixed: take it off KNOWN_DOCKER_JSON"


def real_engine_uses(source: str) -> list[int]:
    """Lines that name the real engine's class (engine/client.DockerEngine) rather than the interface."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if (isinstance(node, ast.Name) and node.id == "DockerEngine")
            or (isinstance(node, ast.alias) and node.name == "DockerEngine")]


def test_the_layers_above_program_against_the_engine_interface() -> None:
    found = outside_engine(real_engine_uses)
    assert found == set(), "type an engine as engine.interface.Engine (its fake then runs the code in a unit test)"


def test_the_engine_rules_catch_a_new_use_and_let_the_others_be() -> None:
    assert real_engine_uses("from dockyard.engine.client import DockerEngine\n") == [1]
    assert real_engine_uses("from dockyard.engine.interface import Engine\ndef f(e: Engine) -> None: ...\n") == []
    assert client_uses("def f(engine):\n    return engine.client.containers.list()\n") == [2]
    assert client_uses("def f(self):\n    return self.engine.api.inspect_container('x')\n") == [2]
    assert client_uses("from etcd3gw.client import Etcd3Client\nimport boto3\n"
                       "s3 = boto3.client('s3')\ndef f(request):\n    return request.client.host\n") == []
    assert docker_type_uses("from dockyard.engine.api import Container, DockerError\n") == [1]
    assert docker_type_uses("from dockyard.engine import api\nx: api.Client\n") == [2]
    assert docker_type_uses("from dockyard.engine.api import DockerError\n") == []
    assert docker_json_keys("port = attrs['NetworkSettings']['Ports']\n") == [1]
    assert docker_json_keys("'''Reads HostConfig.'''\nkey = 'hostconfig'\n") == []


# -- strategies and targets are decided in their registries (issue 29) ---------------------------------
STRATEGY_REGISTRY = {"spec/strategies.py"}  # where a strategy's name may be compared
# An engine's kind (`.config.swarm`) is asked in engine/placement.py only; the others ask its traits
# (`placement(engine).hosts_accessories`, ...) or its Target (deploy/targets/).
# Files that still ask it themselves. Issue 29 takes these away: the scaler's Swarm path becomes a
# Target's, and the balancer's fleet comes from the Target.
KNOWN_TARGET_CHECKS: set[str] = set()


def strategy_compares(source: str) -> list[int]:
    """Lines that compare something with a strategy's name ("blue-green", ...)."""
    from dockyard.spec.strategies import NAMES

    return [node.lineno for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Compare)
            for operand in (node.left, *node.comparators)
            if isinstance(operand, ast.Constant) and operand.value in NAMES]


def target_checks(source: str) -> list[int]:
    """Lines that ask an engine's settings whether it is a Swarm (`engine.config.swarm`)."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr == "swarm" and isinstance(node.value, ast.Attribute)
            and node.value.attr == "config"]


def test_the_rules_see_what_they_forbid() -> None:
    assert strategy_compares('if env.strategy == "blue-green":\n    pass') == [1]
    assert strategy_compares('x = "rolling" != s or s in ("recreate",)') == [1]
    assert strategy_compares('name = "blue-green"') == []  # naming it (its registration) is no decision
    assert target_checks("if engine.config.swarm:\n    pass") == [1]
    assert target_checks("if self.engine.config.swarm:\n    pass") == [1]


def test_no_strategy_name_is_compared_outside_its_registry() -> None:
    found = [f"{p.relative_to(ROOT)}:{line}" for p in sorted(ROOT.rglob("*.py"))
             if str(p.relative_to(ROOT)) not in STRATEGY_REGISTRY for line in strategy_compares(p.read_text())]
    assert found == [], "ask the strategy's traits (EnvironmentSpec.switching), or add a Strategy"


def test_only_the_target_registry_asks_an_engines_kind() -> None:
    files = {str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
             if layer_of(p.relative_to(ROOT)) != "engine" and target_checks(p.read_text())}
    assert files - KNOWN_TARGET_CHECKS == set(), "ask engine/placement.py or the Target, not engine.config.swarm"
    assert KNOWN_TARGET_CHECKS - files == set(), "fixed: take it off KNOWN_TARGET_CHECKS"


# Where SQL may be run (issue 29): one repository module per package and database, and the
# state database's connection and migration runner. Everything else calls a repository.
REPOSITORIES = {
    "state/connection.py": "state.db: the connection (WAL at open)",
    "state/migrations.py": "state.db: the migration runner",
    "state/store.py": "state.db: builds, pushes, releases, the audit log",
    "pipeline/store.py": "state.db: apps, runs, steps, step output",
    "server/store.py": "state.db: tokens, sessions, webhook deliveries and pushes, poll marks",
    "scale/store.py": "state.db: the autoscaler's decisions, overrides and apps",
    "backup/store.py": "state.db: the apps with scheduled backups",
    "jobs/store.py": "state.db: the apps whose jobs the server runs, and each job's last moment handled",
    "deploy/rollout_store.py": "state.db: canary rollouts, their steps and analysis",
    "pipeline/preview_store.py": "state.db: pull request previews, their state and cap",
    "notify/store.py": "state.db: the one event outbox: events and their deliveries",
    "config/sqlite_store.py": "config.db: the embedded configuration store",
    "logs/store.py": "the log store (store.db, FTS5)",
    "logs/spool.py": "the forwarder's spool (spool.db)",
    "monitor/history.py": "monitor.db: the agent's samples and alert events",
}
SQL_CALLS = {"execute", "executemany", "executescript"}
# Calls by those names that run no SQL: (file, the called expression).
NOT_SQL = {("pipeline/worker.py", "executor.execute")}  # RunExecutor.execute: a pipeline run


def sql_calls(source: str) -> list[tuple[int, str]]:
    """(line, called expression) of every `X.execute(`, `X.executemany(`, `X.executescript(` call."""
    return [(node.lineno, ast.unparse(node.func)) for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS]


def sql_outside(root: Path) -> list[str]:
    return [f"{rel}:{line}: {call}(...)" for path in sorted(root.rglob("*.py"))
            if (rel := str(path.relative_to(root))) not in REPOSITORIES
            for line, call in sql_calls(path.read_text()) if (rel, call) not in NOT_SQL]


def test_sql_is_run_only_in_the_repository_modules() -> None:
    assert sql_outside(ROOT) == [], "SQL belongs in the package's repository module (REPOSITORIES)"
    assert all((ROOT / rel).is_file() for rel in REPOSITORIES), "a repository module listed is gone"


def test_the_sql_rule_catches_a_query_in_a_handler(tmp_path: Path) -> None:
    for rel in ("server/hooks.py", "server/store.py", "pipeline/worker.py"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text((ROOT / rel).read_text())
    assert sql_outside(tmp_path) == []
    with (tmp_path / "server" / "hooks.py").open("a") as hooks:
        hooks.write('\n\ndef peek(db):\n    return db.conn.execute("SELECT * FROM tokens").fetchall()\n')
    with (tmp_path / "pipeline" / "worker.py").open("a") as worker:
        worker.write("\n\ndef run(conn, rows):\n    conn.executemany('INSERT INTO runs VALUES (?)', rows)\n")
    assert [found.split(": ", 1)[1] for found in sql_outside(tmp_path)] == ["conn.executemany(...)",
                                                                           "db.conn.execute(...)"]
