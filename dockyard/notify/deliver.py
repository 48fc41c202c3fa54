"""The server's delivery loop: each due row of the outbox sent to its channel; a failure is tried
again after a backoff (1 s doubling to 5 minutes), for up to a day, then given up and logged."""

from __future__ import annotations

import logging
import time

from dockyard import settings
from dockyard.notify.channels import DeliveryFailed, send
from dockyard.notify.store import Delivery, Outbox
from dockyard.state.db import StateDB

log = logging.getLogger("dockyard.notify")


class Deliverer:
    def __init__(self, db: StateDB) -> None:
        self.outbox = Outbox(db)

    def run_once(self, now: float | None = None) -> tuple[int, int]:
        """Try every due delivery once: (delivered, failed)."""
        channels = settings.load().notifications.channels
        sent = failed = 0
        for delivery in self.outbox.due(time.time() if now is None else now):
            channel = channels.get(delivery.channel)
            try:
                if channel is None:
                    raise DeliveryFailed(f"channel {delivery.channel!r} is no longer in the settings")
                note = send(delivery.key, channel, delivery.event)
            except DeliveryFailed as exc:
                failed += 1
                self._failed(delivery, exc.message)
                continue
            if note:  # taken in part: sent again, the rest would have it twice
                log.warning("notification %s to %s delivered in part: %s", delivery.key, delivery.channel, note)
            self.outbox.delivered(delivery, time.time(), note)
            sent += 1
        return sent, failed

    def _failed(self, delivery: Delivery, error: str) -> None:
        if self.outbox.failed(delivery, error, time.time()):
            log.error("notification %s to %s given up after %d attempts: %s", delivery.key, delivery.channel,
                      delivery.attempts + 1, error)
        else:
            log.warning("notification %s to %s failed (attempt %d, tried again later): %s", delivery.key,
                        delivery.channel, delivery.attempts + 1, error)
