"""Swarm, the pure and read-only parts: what to change (plan), the pool's nodes and the services'
logs. The Swarm service a dockyard.yml service becomes is engine/swarm_spec.py's; what runs on a
Swarm is read through the engine's verbs (Engine.services, tasks, nodes); deploy/targets/swarm.py drives
a Swarm as one more deploy target."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["logs", "nodes", "plan"]
