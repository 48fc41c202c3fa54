"""The agent's own process. `dockyard agent` checks its options with the CLI, then becomes this
module (os.execv, the same pid, signals and output) so that the agent, which runs for the host's
whole life, does not hold the CLI's libraries (typer, click, rich: ~8 MB; issue 30: the agent
under 40 MB). Standard library and the agent's own modules only.

    python -m dockyard.cli.agent_run '{"listen": "127.0.0.1:9180", ...}'   (what `dockyard agent` runs)
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dockyard.errors import DockyardError

# The log store's page cache and the lines read per turn in the agent: it stays small however big
# the store grows and however much a container wrote while the agent was down (1 MiB of cache: the
# agent only appends, and the pages it appends to fit; 4 MiB held 2.7 MB more resident for no less
# CPU); `dockyard forwarder run`, which may ingest 100,000 lines a second, keeps the forwarder's own
# (32 MiB, 8 MiB). Lines
# gather 1 s between two turns that caught up (0.25 s in the forwarder): a turn and a store commit
# cost about as much for one line as for a hundred, so with 50 containers writing a few lines a second
# each, the forwarder's share of a core halves from 0.5 s (issue 30: the agent under 1 %); a line
# reaches the store within about a second. A turn cut short by AGENT_TURN_BYTES goes on at once, so
# a busy host is read as fast as before. The forwarder has no event stream of its own: the agent's
# inventory (one stream, its containers only) wakes it when a container starts, dies or goes, and the
# folder is scanned every AGENT_SCAN s besides (what it finds there is what is read: an event is only
# a wake-up).
AGENT_STORE_CACHE_KIB = 1024
AGENT_TURN_BYTES = 1 << 20
AGENT_GATHER = 1.0
AGENT_SCAN = 5.0


@dataclass(frozen=True)
class AgentRun:
    listen: str = "127.0.0.1:9180"
    interval: float = 1.0
    disk_interval: float = 60.0
    probe_interval: float = 10.0
    retention: float = 86400.0
    rules: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    engine: str = "local"
    logs: bool = True
    edge_log_rotate: int = 64 << 20
    verbose: bool = False

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "dockyard.cli.agent_run", json.dumps(asdict(self))]

    @classmethod
    def parse(cls, text: str) -> AgentRun:
        return cls(**json.loads(text))


def selector(labels: list[str]) -> dict[str, str]:
    out = {}
    for item in labels:
        key, sep, value = item.partition("=")
        out[key] = value if sep else ""
    return out


def become(run: AgentRun) -> None:
    """Replace this process with the agent's (never returns); where exec is refused, run it here."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, run.argv())
    except OSError:
        serve(run)


def serve(run: AgentRun) -> None:
    from dockyard.engine.local_socket import connect_reads
    from dockyard.monitor.agent import AgentOptions, build_agent
    from dockyard.monitor.footprint import tune_malloc

    tune_malloc()  # before any thread starts

    logging.basicConfig(level=logging.INFO if run.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    alert_rules = []
    if run.rules:  # the rules' reader loads pydantic and the spec's models: only an agent with rules pays
        from dockyard.monitor.rules import load_rules

        alert_rules = [rule for path in run.rules for rule in load_rules(Path(path))]
    eng = connect_reads(run.engine)  # over the unix socket without docker-py
    opts = AgentOptions(listen=run.listen, interval=run.interval, disk_interval=run.disk_interval,
                        probe_interval=run.probe_interval, retention_s=run.retention, selector=selector(run.labels),
                        rules=alert_rules)
    monitor = build_agent(eng, opts)
    if run.logs:
        from dockyard.logs.edge_source import EdgeLogConfig
        from dockyard.logs.forwarder import Forwarder, ForwarderConfig
        from dockyard.logs.meta import parse_selectors
        from dockyard.router.edge import Edge

        edge = Edge()  # the host's edge, if it ever runs: its access log goes in like a container's
        forwarder = Forwarder(ForwarderConfig(containers_root=Path(eng.containers_root()),
                                              selectors=parse_selectors(run.labels), docker_host=None,
                                              host=monitor.state.host, store_cache_kib=AGENT_STORE_CACHE_KIB,
                                              turn_bytes=AGENT_TURN_BYTES, gather=AGENT_GATHER,
                                              scan_interval=AGENT_SCAN,
                                              edge=EdgeLogConfig(edge.paths.logs, edge.log_writers,
                                                                 edge.reopen_log, max_bytes=run.edge_log_rotate)))
        monitor.inventory.listeners.append(forwarder.wake.set)
        monitor.agent.add(forwarder)
        monitor.state.metric_sources += [forwarder.edge_metrics, forwarder.metrics]
    print(f"dockyard agent on {monitor.state.host}: {len(alert_rules)} alert rules, "
          f"serving http://{run.listen}/metrics (Ctrl-C to stop)", flush=True)
    try:
        monitor.agent.run()
    finally:
        eng.close()


def main(argv: list[str]) -> int:
    try:
        serve(AgentRun.parse(argv[1]))
    except DockyardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
