"""Swarm, the pure and read-only parts: a service per dockyard.yml service (translate), what to
change (plan), the pool's nodes and the services' logs. What runs on a Swarm is read by
engine/swarm_observe.py; deploy/swarm.py drives a Swarm as one more deploy target."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["logs", "nodes", "plan", "translate"]
