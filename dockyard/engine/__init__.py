"""The adapter to Docker: connections, names and labels, container requests, networks, sandboxes."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["actions", "client", "containers", "labels", "networks", "observe", "sandbox", "secretfiles", "start",
           "swarm_facts", "swarm_observe", "testrun"]
