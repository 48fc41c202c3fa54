"""Container monitoring: cgroup and /proc readers, discovery, probes, alerts, exposition, the agent."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["agent", "alerts", "client", "footprint", "history", "http", "procnet", "prometheus", "rules"]
