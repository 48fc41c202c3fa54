"""Swarm environments: one Swarm service per dockyard.yml service (translate, plan, apply, logs, nodes).

What runs on a Swarm (services, tasks, nodes) is read by engine/swarm_observe.py."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["deploy", "executor", "logs", "nodes", "plan"]
