"""The edge's HAProxy process on a real host (issue 15): a host that ran the earlier edge (nginx,
on edge/nginx.conf) moves to HAProxy on the same port from the same route files at the balancer
watch's first look; a port another process holds is refused with who holds it, and the edge keeps
serving what it served."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from dockyard.router import procs
from dockyard.router.edge import Edge
from dockyard.router.edge_render import EdgeRoute, EdgeSite
from tests.conftest import run_cli
from tests.ports import free_port

pytestmark = pytest.mark.integration


def test_the_earlier_nginx_edge_hands_its_port_to_haproxy(dockyard_env: Path) -> None:
    folder = dockyard_env / "edge"
    (folder / "temp").mkdir(parents=True)
    port = free_port()
    temp = " ".join(f"{kind}_temp_path {folder}/temp;" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = folder / "nginx.conf"
    conf.write_text(f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nevents {{}}\nhttp {{ {temp}\n"
                    f'  server {{ listen 127.0.0.1:{port}; return 200 "the nginx edge\\n"; }}\n}}\n')
    subprocess.run(["nginx", "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf)], check=True)
    master = int((folder / "nginx.pid").read_text())
    route = EdgeRoute("shop", "production", ("shop.test",), ())  # no replica: the edge answers itself
    edge = Edge(home=dockyard_env, site=EdgeSite("127.0.0.1", port, free_port()))
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text == "the nginx edge\n"
        (folder / "routes").mkdir()
        (folder / "routes" / f"{route.key}.json").write_text(route.to_json())
        done = edge.repair()
        assert done == [f"rendered {edge.paths.conf} from the routes and started the edge on it"]
        answer = httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": "shop.test"}, timeout=5)
        assert answer.status_code == 503 and answer.text == "shop/production has no replica to serve\n"
        assert not procs.is_alive(master)  # stopped gracefully, not left holding anything
        assert edge.repair() == []  # nothing more to do
    finally:
        edge.stop(timeout=5)
        if procs.is_alive(master):
            os.kill(master, signal.SIGQUIT)


def test_a_port_another_process_holds_is_refused_and_the_edge_keeps_serving(dockyard_env: Path) -> None:
    port, other = free_port(), free_port()
    assert run_cli("edge", "configure", "--address", "127.0.0.1", "--http-port", str(port), "--https-port",
                   str(free_port())).returncode == 0
    edge = Edge(home=dockyard_env)
    squatter = socket.create_server(("127.0.0.1", other))
    try:
        edge.publish(EdgeRoute("shop", "production", ("shop.test",), ()), lambda name: "dockyard.yml:1")
        served = edge.paths.conf.read_text()
        moved = run_cli("edge", "configure", "--http-port", str(other))
        assert moved.returncode != 0 and "Traceback" not in moved.stderr
        assert f"127.0.0.1:{other} is held by pid {os.getpid()}" in moved.stderr
        answer = httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": "shop.test"}, timeout=5)
        assert answer.text == "shop/production has no replica to serve\n"  # still there, as it was
        assert edge.paths.conf.read_text() == served and Edge(home=dockyard_env).site.http_port == port
        assert not edge.draining()  # no process left behind by the failed move
    finally:
        squatter.close()
        edge.stop(timeout=5)
