"""A TCP forwarder from a port inside a network namespace to an address of this (root) namespace.

    python forward.py /var/run/netns/NAME 127.0.0.1:5000 127.0.0.1:5000

The listening socket is made inside NAME's namespace (setns), then the process returns to its
own namespace, so connections accepted there are relayed to the target here. The test pool
uses it to give the second node's dockerd the same registry address as the first
(127.0.0.1:5000 in its own namespace), so one image reference pulls on every node.
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def setns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


def pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        client, _ = listener.accept()
        try:
            upstream = socket.create_connection(target, timeout=5)
        except OSError:
            client.close()
            continue
        upstream.settimeout(None)
        threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


def main() -> None:
    netns, listen, target = sys.argv[1:4]
    home = "/proc/self/ns/net"
    home_fd = os.open(home, os.O_RDONLY)
    setns(netns)
    host, port = listen.rsplit(":", 1)
    listener = socket.create_server((host, int(port)), reuse_port=False)
    setns(f"/proc/self/fd/{home_fd}")
    thost, tport = target.rsplit(":", 1)
    print("ready", flush=True)
    serve(listener, (thost, int(tport)))


if __name__ == "__main__":
    main()
