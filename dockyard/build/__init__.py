"""git facts, image builds and pushes, copies between registries."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["builder", "git", "registry"]
