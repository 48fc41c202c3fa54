"""The log path: tail Docker's json-file logs, enrich, spool on disk, ship at least once, search.

reader (tailer + jsonfile parser + enrich chain; the host edge's access log beside the containers,
edge_source) -> spool (SQLite, with read positions in the
same transaction) -> one shipper per sink (store, syslog, Elasticsearch, Loki) -> ack.
"""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["edge_access", "edge_source", "edge_window", "engine_source", "forwarder", "meta", "paths", "query",
           "status", "store"]
