"""A replica's port is never one the site keeps for the edge (it may not listen yet)."""

from __future__ import annotations

from pathlib import Path

from dockyard import settings
from dockyard.engine.start import edge_ports, free_port


def test_the_edge_ports_of_the_site_are_reserved(dockyard_env: Path) -> None:
    assert edge_ports() == frozenset({80, 443})
    site = settings.load()
    site.edge.http_port, site.edge.https_port = 18080, 18443
    settings.save(site)
    assert edge_ports() == frozenset({18080, 18443})


def test_a_free_port_skips_the_reserved_ones() -> None:
    first = free_port(frozenset())
    # the kernel hands out ports in turn: reserve the next ones and none of them comes back
    reserved = frozenset(range(first, first + 50))
    assert all(free_port(reserved) not in reserved for _ in range(20))
