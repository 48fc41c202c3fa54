"""The nginx balancers of blue/green environments."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["colors", "counter", "nginx", "status", "swarm_fleet", "switch", "watch"]
