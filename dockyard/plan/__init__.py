"""Pure planners: deploy convergence, blue/green steps, release fingerprints."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["bluegreen", "canary", "deploy", "release"]
