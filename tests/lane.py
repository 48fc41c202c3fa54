"""Run a command (a pytest lane) in a network namespace of its own, where it starts its own dockerd
(tests/own_engine.py): the tests that restart their engine or make it a Swarm manager then run
beside the rest of the suite, and what they do to their engine reaches no other test.

    python -m tests.lane NAME -- .venv/bin/pytest -m own_engine tests

Inside, 127.0.0.1 is the namespace's own loopback: the lane's replicas, balancers and edges listen
there, out of reach of the other lanes' ports. The host's registries and etcd are relayed to the
same addresses inside (127.0.0.1:5000, :5001, :2379), so one image reference and one store address
work in every lane. The namespace is removed at the end; the exit status is the command's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from dockyard.engine.sandbox import Relay, listen_in_netns
from tests.own_engine import ENV

RELAYED = (5000, 5001, 2379)  # the local and remote registries, etcd


def ip(*argv: str, check: bool = True) -> None:
    result = subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise SystemExit(f"lane: ip {' '.join(argv)} failed: {result.stderr.strip()}")


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m tests.lane NAME -- COMMAND...", file=sys.stderr)
        return 2
    name, command = argv[0], argv[2:]
    path = f"/var/run/netns/{name}"
    ip("netns", "del", name, check=False)  # a lane left by a run that was killed
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        for port in RELAYED:
            relay = Relay(listen_in_netns(path, port), ("127.0.0.1", port))
            threading.Thread(target=relay.serve, name=f"relay-{port}", daemon=True).start()
        # nsenter --net (not `ip netns exec`, which remounts /sys and hides the cgroup mounts)
        child = subprocess.Popen(["nsenter", f"--net={path}", *command], env={**os.environ, ENV: name})
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        signal.signal(signal.SIGINT, lambda *_: child.send_signal(signal.SIGINT))
        return child.wait()
    finally:
        ip("netns", "del", name, check=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
