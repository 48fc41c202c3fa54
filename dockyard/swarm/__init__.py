"""Swarm environments: one Swarm service per dockyard.yml service (translate, plan, apply, observe)."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["colors", "deploy", "executor", "facts", "logs", "nodes", "observe", "plan"]
