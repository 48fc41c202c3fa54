"""Scheduled jobs (issue 31): `jobs:` in dockyard.yml, run by the server's loop in one-off containers
of each environment's live release. plan: when a run is due (pure); store: the apps whose jobs run
and the last moment handled per job; runner: starting, collecting and recording the runs."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["plan", "runner", "store"]
