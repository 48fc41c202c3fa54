"""edge configure|status and maintenance on|off: this host's edge, which serves every environment
that has domains."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dockyard.cli.common import JsonOpt as Json
from dockyard.cli.common import console, err_console, print_json, result, say


def _progress(as_json: bool):  # type: ignore[no-untyped-def]
    """Where progress lines go: stdout for a person, stderr beside --json's stdout."""
    return (lambda line: err_console.print(line, highlight=False, markup=False)) if as_json else say

edge_app = typer.Typer(help="This host's edge: one HAProxy serving each environment's domains, by name.\n\n"
                            "Example: dockyard edge status",
                       no_args_is_help=True)


@edge_app.command("configure")
def configure(
    address: Annotated[str | None, typer.Option(help="The address it listens on (127.0.0.1 until set; 0.0.0.0: "
                                                     "every one).")] = None,
    http_port: Annotated[int | None, typer.Option(help="Its HTTP port (80).")] = None,
    https_port: Annotated[int | None, typer.Option(help="Its HTTPS port (443).")] = None,
    acme_directory: Annotated[str | None, typer.Option(help="The ACME CA's directory URL (tls: acme).")] = None,
    acme_email: Annotated[str | None, typer.Option(help="The contact the ACME CA may write to.")] = None,
    acme_ca_bundle: Annotated[Path | None, typer.Option(help="A CA file to trust the ACME server by (a test "
                                                              "CA).")] = None,
    renew_before_days: Annotated[float | None, typer.Option(help="Renew a certificate this many days before "
                                                                  "it expires (30).")] = None,
    as_json: Json = False,
) -> None:
    """Where the edge listens, and the ACME CA it gets certificates from; a running edge moves at once.

    Example: dockyard edge configure --address 127.0.0.1 --http-port 8080 --https-port 8443
    """
    import ipaddress

    from dockyard import settings
    from dockyard.errors import UsageError
    from dockyard.router.edge import Edge
    from dockyard.router.edge_routes import site_settings

    site = settings.load()
    edge = site.edge.model_copy()
    if address is not None:
        try:
            ipaddress.ip_address(address)
        except ValueError as exc:
            raise UsageError(f"--address {address!r} is not an IP address") from exc
        edge.address = address
    for flag, port in (("--http-port", http_port), ("--https-port", https_port)):
        if port is not None and not 1 <= port <= 65535:
            raise UsageError(f"{flag} {port}: must be a port between 1 and 65535")
    edge.http_port = edge.http_port if http_port is None else http_port
    edge.https_port = edge.https_port if https_port is None else https_port
    if edge.http_port == edge.https_port:
        raise UsageError(f"the HTTP and HTTPS ports are both {edge.http_port}")
    if acme_directory is not None:
        if not acme_directory.startswith("https://"):
            raise UsageError(f"--acme-directory {acme_directory!r}: an ACME directory is an https:// URL")
        edge.acme_directory = acme_directory
    if acme_email is not None:
        edge.acme_email = acme_email or None
    if acme_ca_bundle is not None:
        if not acme_ca_bundle.is_file():
            raise UsageError(f"--acme-ca-bundle {acme_ca_bundle}: no such file")
        edge.acme_ca_bundle = str(acme_ca_bundle.resolve())
    if renew_before_days is not None:
        if renew_before_days <= 0:
            raise UsageError(f"--renew-before-days {renew_before_days:g}: must be more than 0")
        edge.renew_before_s = renew_before_days * 86400.0
    site.edge = edge
    running = Edge(site=site_settings(site))
    if running.pid() is not None:  # checked and reloaded first: a port that cannot be had changes nothing
        running.serve(running.rendered())
    settings.save(site)
    result(as_json, {"address": edge.address, "http_port": edge.http_port, "https_port": edge.https_port,
                     "acme_directory": edge.acme_directory, "acme_email": edge.acme_email,
                     "renew_before_days": edge.renew_before_s / 86400.0, "reloaded": running.pid() is not None},
           f"edge: http://{edge.address}:{edge.http_port}, https://{edge.address}:{edge.https_port}; "
           f"ACME {edge.acme_directory}")


@edge_app.command("stop")
def stop(as_json: Json = False) -> None:
    """Stop the edge: HAProxy finishes the requests it holds and exits. Its routes are kept, and
    nothing starts it again (a deploy, the server's watch) until `dockyard edge start`.

    Example: dockyard edge stop
    """
    from dockyard.router.edge import Edge

    was = Edge().stop_serving()
    result(as_json, {"running": False, "was_running": bool(was)},
           "edge stopped; `dockyard edge start` serves its routes again" if was
           else "the edge was not running; it stays stopped until `dockyard edge start`")


@edge_app.command("start")
def start(as_json: Json = False) -> None:
    """Start the edge again on its routes (after `dockyard edge stop`).

    Example: dockyard edge start
    """
    from dockyard.router.edge import Edge

    edge = Edge(report=_progress(as_json))
    count = edge.start_serving()
    result(as_json, {"running": edge.pid() is not None, "routes": count, "address": edge.site.address,
                     "http_port": edge.site.http_port},
           f"edge serves {count} route(s) on {edge.site.address}:{edge.site.http_port}" if count
           else "the edge has no route yet: a deploy of an environment with domains: starts it")


@edge_app.command("status")
def status(as_json: Json = False) -> None:
    """The edge's routes: each environment's names, what serves them, and whether HAProxy runs.

    Example: dockyard edge status --json
    """
    from rich.table import Table

    from dockyard.router.edge import Edge

    edge = Edge()
    routes = edge.routes()
    pid = edge.pid()
    port = "" if edge.site.http_port == 80 else f":{edge.site.http_port}"  # redirects and previews: whole names
    if as_json:
        print_json({"running": pid is not None, "pid": pid, "address": edge.site.address,
                    "http_port": edge.site.http_port,
                    "routes": [{"app": r.app, "env": r.env, "path": r.path, "domains": list(r.domains),
                                "redirects": r.redirects, "preview": r.preview_name or None,
                                "servers": list(r.servers),
                                "urls": r.urls(edge.site), "tls": r.tls, "https": sorted(r.certificates),
                                "maintenance": r.maintenance}
                               for r in routes]})
        return
    console.print(f"edge on {edge.site.address}:{edge.site.http_port}: "
                  + (f"haproxy pid {pid}" if pid else "[yellow]not running[/]"), highlight=False)
    table = Table("app/env", "url", "served by")
    for r in routes:
        for url in r.urls(edge.site):
            table.add_row(f"{r.app}/{r.env}", url, ", ".join(r.servers) or "nothing (503)")
        for source, target in r.redirects.items():
            table.add_row(f"{r.app}/{r.env}", f"http://{source}{port}/", f"redirect to {target}")
        if r.preview_name:
            table.add_row(f"{r.app}/{r.env}", f"http://{r.preview_name}{port}/", ", ".join(r.preview))
    console.print(table)




cert_app = typer.Typer(help="Certificates the operator brings for the edge (tls: installed).\n\n"
                            "Example: dockyard edge cert add shop.example --cert fullchain.pem --key privkey.pem",
                       no_args_is_help=True)


@cert_app.command("add")
def cert_add(
    name: Annotated[str, typer.Argument(help="The name it serves (one of an environment's domains).")],
    cert: Annotated[Path, typer.Option("--cert", help="The certificate and its chain (PEM).")],
    key: Annotated[Path, typer.Option("--key", help="Its private key (PEM, unencrypted).")],
    as_json: Json = False,
) -> None:
    """Install a certificate for NAME: checked against its key and its names, kept 0600; a running
    edge serves it at the next deploy or renewal pass.

    Example: dockyard edge cert add shop.example.com --cert fullchain.pem --key privkey.pem
    """
    from dockyard.errors import UsageError
    from dockyard.router.certs import CertificateError, check_pair
    from dockyard.router.edge import Edge
    from dockyard.router.edge_tls import cert_store

    try:
        cert_pem, key_pem = cert.read_bytes(), key.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    try:
        info = check_pair(cert_pem, key_pem)
    except CertificateError as exc:
        raise UsageError(f"{cert} and {key}: {exc.message}") from exc
    if name not in info.names:
        raise UsageError(f"{cert} is for {', '.join(info.names) or 'no DNS name'}, not {name}")
    store = cert_store(Edge().paths.prefix)
    store.put(store.installed(name), cert_pem, key_pem)
    from dockyard.vocabulary import rfc3339

    result(as_json, {"name": name, "names": list(info.names), "not_after": rfc3339(info.not_after)},
           f"installed a certificate for {name} (until {_day(info.not_after)})")


@edge_app.command("renew")
def renew(as_json: Json = False) -> None:
    """One renewal pass now (the server runs one every minute): each certificate due is renewed.

    Example: dockyard edge renew
    """
    from dockyard.deploy.edge import Renewals
    from dockyard.router.edge import Edge

    report = _progress(as_json)
    problems = Renewals(lambda: Edge(report=report), report=report, routes=lambda: Edge().routes()).run_once()
    if as_json:
        print_json({"current": not problems, "problems": problems})
    elif not problems:
        say("edge: every certificate is current")
    if problems:
        raise typer.Exit(1)


def _day(at: float) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(at))


maintenance_app = typer.Typer(help="Maintenance mode: the edge answers an environment's names with a 503 page.",
                              no_args_is_help=True)


@maintenance_app.command("on")
def maintenance_on(
    env: Annotated[str, typer.Argument(help="The environment.")],
    message: Annotated[str, typer.Option(help="What the page says.")] = "We are down for maintenance.",
    as_json: Json = False,
) -> None:
    """Answer ENV's names with 503, Retry-After and a page; its health path and its preview name
    still reach the app.

    Example: dockyard maintenance on production --message "Back at 14:00 UTC"
    """
    from dockyard.cli.common import load_app_spec
    from dockyard.errors import UsageError
    from dockyard.router.edge import Edge

    if len(message) > 500:
        raise UsageError(f"--message is {len(message)} characters: at most 500")
    spec = load_app_spec()
    spec.environment(env)
    route = Edge().maintenance(spec.app, env, message)
    result(as_json, {"app": spec.app, "env": env, "maintenance": True, "message": message,
                     "domains": list(route.domains)},
           f"{spec.app}/{env}: maintenance on ({', '.join(route.domains)} answer 503)")


@maintenance_app.command("off")
def maintenance_off(env: Annotated[str, typer.Argument(help="The environment.")], as_json: Json = False) -> None:
    """Serve ENV's names again. Example: dockyard maintenance off production"""
    from dockyard.cli.common import load_app_spec
    from dockyard.router.edge import Edge

    spec = load_app_spec()
    spec.environment(env)
    route = Edge().maintenance(spec.app, env, None)
    result(as_json, {"app": spec.app, "env": env, "maintenance": False, "message": None,
                     "domains": list(route.domains)}, f"{spec.app}/{env}: serving again on {', '.join(route.domains)}")


def register(app: typer.Typer) -> None:
    edge_app.add_typer(cert_app, name="cert")
    app.add_typer(edge_app, name="edge")
    app.add_typer(maintenance_app, name="maintenance")
