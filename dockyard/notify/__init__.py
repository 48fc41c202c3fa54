"""Notifications: events (a run failed, waits, succeeded; a release deployed or rolled back; an
alert; a scaling) routed to channels (webhook, Slack, e-mail) through a durable outbox."""

# The modules other packages may import (tests/unit/test_layers.py holds it).
__all__ = ["alerts", "channels", "deliver", "emit", "listing", "model", "store"]
