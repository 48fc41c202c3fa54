"""The nginx balancers of blue/green environments, and the host's edge."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["certs", "colors", "counter", "edge", "edge_check", "edge_render", "edge_routes", "edge_tls", "nginx",
           "status", "swarm_fleet", "switch", "watch"]
