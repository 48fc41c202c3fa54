"""A replica's port is never one the site keeps for the edge (it may not listen yet)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard import settings
from dockyard.engine.start import edge_ports, free_port


def test_the_edge_ports_of_the_site_are_reserved(dockyard_env: Path) -> None:
    assert edge_ports() == frozenset({80, 443})
    site = settings.load()
    site.edge.http_port, site.edge.https_port = 18080, 18443
    settings.save(site)
    assert edge_ports() == frozenset({18080, 18443})


def test_a_free_port_skips_the_reserved_ones() -> None:
    with pytest.raises(OSError, match="no free 127.0.0.1 port outside the reserved ones"):
        free_port(frozenset(range(65536)))  # every port reserved: none may be handed out
    first = free_port(frozenset())
    reserved = frozenset(range(first, first + 50))
    assert all(free_port(reserved) not in reserved for _ in range(20))
