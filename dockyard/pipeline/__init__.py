"""Pipeline runs: the commit's source, triggers and their policy, the runner and the worker."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["places", "source", "store", "triggers", "worker"]
