"""Pipeline runs: the commit's source, triggers and their policy, the runner and the worker; pull
request previews (runs of their own)."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["places", "preview_store", "previews", "source", "store", "triggers", "worker"]
