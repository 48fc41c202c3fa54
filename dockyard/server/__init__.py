"""`dockyard server`: the REST API, webhooks and the background loops (pipeline worker, poller)."""
