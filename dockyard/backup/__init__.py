"""Backups of volumes and accessories (issue 16): consistent copies, compressed with a checksum,
kept in a local folder or an S3-compatible bucket, listed, restored, pruned and scheduled."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["plan", "schedule", "service", "store", "stores"]
