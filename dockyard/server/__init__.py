"""`dockyard server`: the REST API, webhooks and the background loops (pipeline worker, poller)."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["app", "auth", "poller", "runtime"]
