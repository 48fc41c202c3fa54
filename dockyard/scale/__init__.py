"""The autoscaler: policy, facts, alarms, the loop and applying counts."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["alarms", "counts", "deploys", "loop", "store"]
