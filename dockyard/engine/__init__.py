"""The one adapter to Docker: connections, names and labels, facts, container and service requests,
networks, events, sandboxes. Only this package imports docker."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["accessories", "actions", "api", "backups", "client", "container_files", "container_logs", "containers",
           "events", "facts", "host", "images", "labels", "lifecycle", "networks", "placement", "replicas", "rows",
           "sandbox", "secretfiles", "services", "start", "swarm_facts", "swarm_reads", "swarm_writes", "swarm_spec",
           "testrun", "volume_swap", "volumes"]
