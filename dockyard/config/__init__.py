"""Configuration per environment: stores (SQLite, etcd), secrets, import/export, sandboxed templates."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["render", "secrets", "service", "store", "stores"]
