"""engine add|ls|rm and doctor: the site's engines, and a check of everything Dockyard needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from dockyard.cli.common import JsonOpt, console, options, print_json, result

engine_app = typer.Typer(help="Register the site's Docker engines (local socket or tcp:// with TLS).",
                         no_args_is_help=True)


@engine_app.command("add")
def engine_add(
    name: Annotated[str, typer.Argument(help="Name apps use in dockyard.yml (engine: NAME).")],
    host: Annotated[str, typer.Option("--host", help="unix:///var/run/docker.sock or tcp://HOST:2376")],
    tls_ca: Annotated[Path | None, typer.Option("--tls-ca", help="CA that signed the engine's cert.")] = None,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="Client certificate.")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="Client key.")] = None,
    swarm: Annotated[bool, typer.Option("--swarm", help="A Swarm manager: deploy Swarm services.")] = False,
    publish_network: Annotated[str | None, typer.Option(
        "--publish-network", help="Swarm-scoped bridge network binding published ports (docs/swarm.md).")] = None,
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="Accept a tcp:// engine off this host without TLS (whoever reaches it owns it).")] = False,
    allow_bind: Annotated[list[str] | None, typer.Option(
        "--allow-bind", help="A host folder apps may bind-mount (binds: in dockyard.yml), with what is under it; "
                             "repeat for more.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register (or replace) an engine. Certificates are referenced by path, never copied into apps.

    Example: dockyard engine add tls-host --host tcp://10.0.0.5:2376 \\
    --tls-ca ca.pem --tls-cert cert.pem --tls-key key.pem

    Example: dockyard engine add swarm --host unix:///var/run/docker.sock --swarm

    Example: dockyard engine add local --host unix:///var/run/docker.sock --allow-bind /srv/shop
    """
    from dockyard import settings
    from dockyard.errors import UsageError

    if not host.startswith(("unix://", "tcp://", "ssh://")):
        raise UsageError(f"--host {host!r}: use unix:///path/docker.sock or tcp://HOST:PORT")
    paths = {"--tls-ca": tls_ca, "--tls-cert": tls_cert, "--tls-key": tls_key}
    for flag, path in paths.items():
        if path is not None and not path.is_file():
            raise UsageError(f"{flag} {path}: no such file")
    if bool(tls_cert) != bool(tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    plain_tcp = host.startswith("tcp://") and not (tls_ca or tls_cert)
    if plain_tcp:
        from urllib.parse import urlparse

        loopback = urlparse(host).hostname in ("127.0.0.1", "localhost", "::1")
        if not loopback and not insecure:
            raise UsageError(f"--host {host} without TLS: anyone who reaches that port controls the host's Docker",
                             hint="give --tls-ca, --tls-cert and --tls-key (docs/engines.md), or --insecure "
                             "on a network you trust")
        console.print(f"[yellow]warning:[/] engine {name} at {host} has no TLS", highlight=False)
    site = settings.load()
    if publish_network and not swarm:
        raise UsageError("--publish-network is for --swarm engines")
    for folder in allow_bind or []:
        if not folder.startswith("/") or ".." in folder.split("/"):
            raise UsageError(f"--allow-bind {folder}: give an absolute folder without '..'")
    certificates = {k: str(v.resolve()) for k, v in {"tls_ca": tls_ca, "tls_cert": tls_cert, "tls_key": tls_key}.items()
                    if v}
    site.engines[name] = settings.EngineSettings(host=host, swarm=swarm, publish_network=publish_network,
                                                 bind_paths=[f.rstrip("/") or "/" for f in allow_bind or []],
                                                 **certificates)
    settings.save(site)
    result(as_json, {"engine": name, **asdict(site.engines[name])},
           f"engine {name} -> {host}" + (" (TLS)" if tls_ca or tls_cert else "") + (" (Swarm)" if swarm else ""))


@engine_app.command("ls")
def engine_ls(as_json: JsonOpt = False) -> None:
    """List the registered engines. Example: dockyard engine ls"""
    from dockyard import settings

    site = settings.load()
    engines = {"local": settings.default_local_engine(), **site.engines}
    if as_json:
        print_json({n: asdict(e) for n, e in engines.items()})
        return
    for name, cfg in engines.items():
        console.print(f"{name:12} {cfg.host}" + ("  TLS" if cfg.tls_ca or cfg.tls_cert else "")
                      + ("  Swarm" if cfg.swarm else ""))


@engine_app.command("rm")
def engine_rm(name: Annotated[str, typer.Argument(help="The engine's name (dockyard engine ls).")],
              as_json: JsonOpt = False) -> None:
    """Forget an engine. Example: dockyard engine rm tls-host"""
    from dockyard import settings
    from dockyard.errors import NotFound

    site = settings.load()
    if site.engines.pop(name, None) is None:
        raise NotFound(f"engine {name!r} is not registered")
    settings.save(site)
    result(as_json, {"engine": name, "removed": True}, f"engine {name} forgotten")


def _check(label: str, probe: Callable[[], str], found: list[dict[str, object]], quiet: bool = False) -> bool:
    """Run one check, print its line (unless quiet) and add it to `found` (for --json)."""
    from dockyard.errors import DockyardError

    try:
        detail = probe()
    except DockyardError as exc:
        found.append({"check": label, "ok": False, "detail": exc.message, "hint": exc.hint})
        if not quiet:
            console.print(f"[red]FAIL[/] {label}: {exc}", highlight=False)
        return False
    found.append({"check": label, "ok": True, "detail": detail, "hint": None})
    if not quiet:
        console.print(f"[green]ok[/]   {label}: {detail}", highlight=False)
    return True


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Check the engines, the config store, the registries, secrets delivery and the edge (its ports,
    certificates due, routes without an environment); say how to fix each.

    Example: dockyard doctor
    """
    import shutil
    import time

    import httpx

    from dockyard import settings
    from dockyard.config.stores import open_default_store
    from dockyard.engine.client import connect
    from dockyard.engine.secretfiles import fs_type, secrets_root
    from dockyard.errors import DockyardError, RegistryError

    spec = None
    if options.spec_file.exists():
        from dockyard.spec import load_spec

        spec = load_spec(options.spec_file)
    engines = {"local", *settings.load().engines}
    if spec:
        engines |= {spec.environment(e).engine for e in spec.env_names()}

    def engine_probe(name: str) -> Callable[[], str]:
        def probe() -> str:
            engine = connect(name, timeout=10)
            try:
                return f"Docker {engine.version()} at {engine.config.host}"
            finally:
                engine.close()
        return probe

    def store_probe() -> str:
        store = open_default_store()
        try:
            return f"{settings.config_store_url()} (revision {store.current_revision()})"
        finally:
            store.close()

    def registry_probe(host: str) -> Callable[[], str]:
        def probe() -> str:
            try:
                status = httpx.get(f"http://{host}/v2/", timeout=3).status_code
            except httpx.HTTPError as exc:
                raise RegistryError(f"not reachable ({type(exc).__name__})",
                                    hint="start it: scripts/setup.sh start") from exc
            if status != 200:
                raise RegistryError(f"GET /v2/ answered {status}", hint="a registry without auth is expected")
            return "answers /v2/"
        return probe

    def git_probe() -> str:
        if not shutil.which("git"):
            raise DockyardError("git is not installed", hint="apt-get install git")
        return "installed"

    def tmpfs_probe() -> str:
        root = secrets_root()
        kind = fs_type(Path("/proc/mounts").read_text(), root) if root.exists() else None
        return f"{root} on {kind}" if kind == "tmpfs" else f"{root} will be mounted as tmpfs on first deploy"

    found: list[dict[str, object]] = []

    def check(label: str, probe: Callable[[], str]) -> bool:
        return _check(label, probe, found, quiet=as_json)

    results = [check(f"engine {name}", engine_probe(name)) for name in sorted(engines)]
    results.append(check("config store", store_probe))
    if spec:
        from dockyard.deploy.deployer import used_registries

        results += [check(f"registry {host}", registry_probe(host)) for host in used_registries(spec)]
    def edge_probe() -> str:
        from dockyard.router.edge import Edge
        from dockyard.router.edge_check import edge_facts, findings
        from dockyard.state.db import StateDB

        db = StateDB()
        try:
            facts = edge_facts(Edge(), lambda app, env: db.live_release(app, env) is not None)
        finally:
            db.close()
        summary, problems = findings(facts, time.time(), settings.load().edge.renew_before_s)
        if problems:
            raise DockyardError(f"{summary}\n  " + "\n  ".join(problems))
        return summary

    results.append(check("git", git_probe))
    results.append(check("secret files", tmpfs_probe))
    results.append(check("edge", edge_probe))
    if as_json:
        print_json({"ok": all(results), "checks": found})
    if not all(results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add doctor and the engine group. (main.py calls it when one of them runs, or for --help.)"""
    app.command()(doctor)
    app.add_typer(engine_app, name="engine")
