"""Dockyard's own SQLite state: builds, releases, runs, tokens, the audit log, the deploy lock."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["audit", "connection", "db", "lock", "migrations"]
