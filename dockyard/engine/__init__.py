"""The one adapter to Docker: `client.Engine` and its verbs, the facts it returns, names and labels,
and the modules that hold the docker-py calls behind the verbs. Only this package imports docker."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["accessories", "actions", "api", "backups", "client", "container_files", "container_logs", "containers",
           "events", "facts", "host", "images", "interface", "labels", "lifecycle", "networks", "placement", "replicas",
           "rows", "sandbox", "secretfiles", "services", "start", "swarm_facts", "swarm_reads", "swarm_writes",
           "swarm_spec", "testrun", "volume_swap", "volumes"]
