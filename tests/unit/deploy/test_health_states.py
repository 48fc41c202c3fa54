"""How a replica's health is judged from its state (issue 27): a worker without a port by running and
not restarting, or by the engine's verdict on its health command; pure, and check_health on replicas."""
from __future__ import annotations

import pytest

from dockyard.deploy.health import HealthCheck, check_health, engine_verdict, restarted
from dockyard.engine.facts import ReplicaFacts, replica_facts
from dockyard.errors import HealthCheckFailed
from dockyard.router.colors import Replica


def replica(name: str, running: bool = True, port: int | None = None, health: str | None = None) -> Replica:
    return Replica(id=name, name=name, service=name.split("-")[0], replica=1, color="blue", release="r1",
                   config_hash="h", running=running, port=port, health=health, worker=port is None)


def inspected(state: dict, restarts: int = 0) -> ReplicaFacts:
    """A container as the engine's inspect data says it (through the one parser, engine/facts.py)."""
    return replica_facts({"Id": "c1", "Name": "/web", "State": state, "RestartCount": restarts})


def test_the_engines_verdict_on_a_health_command() -> None:
    assert engine_verdict(inspected({"Health": {"Status": "healthy", "Log": [{"ExitCode": 0}]}})) \
        == (True, "health command: ok")
    assert engine_verdict(inspected({"Health": {"Status": "unhealthy", "Log": [{"ExitCode": 1,
                                                                                "Output": "no\n queue "}]}})) \
        == (False, "health command exit 1: no queue")
    assert engine_verdict(inspected({"Health": {"Status": "starting", "Log": []}})) \
        == (None, "health command has not answered yet")


def test_a_replica_that_restarted_is_not_healthy() -> None:
    assert restarted(inspected({"Running": True}), 0) is None
    assert restarted(inspected({"Running": True, "ExitCode": 3}, restarts=2), 0) \
        == "restarting (restarted 2 time(s), last exit code 3)"
    assert restarted(inspected({"Restarting": True, "Running": True, "ExitCode": 1}, restarts=1), 1) \
        == "restarting (restarted 0 time(s), last exit code 1)"


def test_a_running_worker_without_a_port_is_healthy() -> None:
    check_health([replica("worker-1")], {"worker": HealthCheck(path=None)})  # before: "is not running"
    with pytest.raises(HealthCheckFailed, match="worker-1 is not running"):
        check_health([replica("worker-1", running=False)], {"worker": HealthCheck(path=None)})


def test_a_worker_with_a_health_command_is_judged_by_the_engines_verdict() -> None:
    inside = {"worker": HealthCheck(path=None, inside=True)}
    check_health([replica("worker-1", health="healthy")], inside)
    with pytest.raises(HealthCheckFailed, match="worker-1 is not healthy: its health command says unhealthy"):
        check_health([replica("worker-1", health="unhealthy")], inside)
    # a Swarm task reports no verdict: Swarm marks it running only once its health command passed
    check_health([replica("worker-1")], inside)


def serving(paths: set[str]):
    """A local HTTP server that answers 200 on `paths`, 404 elsewhere; (server, port)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200 if self.path in paths else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def test_ps_judges_a_replica_by_its_own_releases_probe_not_the_working_trees() -> None:
    from dockyard.deploy.probes import judge_all
    from dockyard.engine.rows import Running

    server, port = serving({"/old-health"})
    try:
        def row(probe: str, **kw: object) -> Running:
            fields = {"running": True, **kw}
            return Running(id="x", name="web-1", service="web", replica=1, config_hash="h", release="r1",
                           url=f"http://127.0.0.1:{port}", probe=probe, **fields)  # type: ignore[arg-type]

        working_tree = {"web": "http:/new-health", "worker": "running"}
        # the release that runs was made when the health path was /old-health: it is healthy
        assert judge_all([row("http:/old-health")], working_tree) == ["healthy"]
        # a replica older than the label: judged by the working tree's path, as before
        assert judge_all([row("")], working_tree) == ["unhealthy"]
        assert judge_all([row("command", engine_health="unhealthy"), row("running", restarting=True),
                          row("running", running=False)], working_tree) == ["unhealthy", "restarting", "down"]
    finally:
        server.shutdown()


def test_a_new_replica_is_probed_every_50_ms_at_first_then_less_often() -> None:
    """A deploy waits for its slowest replica: a doubling pause from the start (50, 100, 200 ms...)
    found one that answers at 0.4 s only at 0.75 s; a script polling every 50 ms finds it at once."""
    from dockyard.deploy.health import FAST_FOR, poll_delay

    assert [poll_delay(t, 0.05, 1.0) for t in (0.0, 0.4, 1.0, FAST_FOR - 0.01)] == [0.05] * 4
    assert poll_delay(FAST_FOR, 0.05, 1.0) == 0.1
    assert poll_delay(FAST_FOR + 1, 0.4, 1.0) == 0.8
    assert poll_delay(FAST_FOR + 2, 0.8, 1.0) == 1.0  # never more than the check's interval
    assert poll_delay(0.0, 0.05, 0.02) == 0.02  # nor at first
