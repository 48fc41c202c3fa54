"""The orchestrator: a prepared release driven by a strategy (rolling, recreate, blue/green, canary)."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["accessories", "bluegreen", "deployer", "edge", "executor", "health", "parts", "probes", "promote",
           "quick_rollback", "swarm", "swarm_edge", "swarm_executor", "teardown", "verify", "describe", "strategies",
           "targets", "run_task", "one_off", "rollout", "rollout_store"]
