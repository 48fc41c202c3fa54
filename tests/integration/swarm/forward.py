"""A TCP forwarder from a port inside a network namespace to an address of this (root) namespace.

    python forward.py /var/run/netns/NAME 127.0.0.1:5000 127.0.0.1:5000

The listening socket is made inside NAME's namespace and connections accepted there are relayed to
the target here: the same relay as the endpoint-test sandbox (dockyard/engine/sandbox.py). The test
pool uses it to give the second node's dockerd the same registry address as the first
(127.0.0.1:5000 in its own namespace), so one image reference pulls on every node.
"""

from __future__ import annotations

import sys

from dockyard.engine.sandbox import Relay, listen_in_netns


def main() -> None:
    netns, listen, target = sys.argv[1:4]
    host, port = listen.rsplit(":", 1)
    thost, tport = target.rsplit(":", 1)
    relay = Relay(listen_in_netns(netns, int(port), host), (thost, int(tport)))
    print("ready", flush=True)
    relay.serve()


if __name__ == "__main__":
    main()
