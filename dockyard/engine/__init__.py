"""The one adapter to Docker: `interface.Engine` and its verbs, `client.DockerEngine` behind them,
the facts they return, names and labels, and the modules that hold the docker-py calls behind the
verbs; local_socket.py reads a unix:// engine with the standard library for the host agent. Only
this package imports docker."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["accessories", "actions", "api", "backups", "client", "container_files", "container_logs", "containers",
           "events", "facts", "host", "images", "interface", "labels", "lifecycle", "local_socket", "networks",
           "observation",
           "placement", "replicas", "rows", "sandbox", "secretfiles", "services", "start", "swarm_facts",
           "swarm_reads", "swarm_spec", "swarm_writes", "testrun", "volume_swap", "volumes"]
