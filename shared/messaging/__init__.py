"""Events between services: envelope and catalogue, outbox, relay, broker, consumers.

Import the pieces from their modules (``shared.messaging.events``,
``shared.messaging.outbox`` …); this package re-exports the everyday names.
"""

from shared.messaging.events import (
    CATALOGUE,
    CONSUMERS,
    WEBHOOK_EVENTS,
    Envelope,
    decode_payload,
    new_event,
    webhook_payload,
)
from shared.messaging.outbox import publish

__all__ = [
    "CATALOGUE",
    "CONSUMERS",
    "WEBHOOK_EVENTS",
    "Envelope",
    "decode_payload",
    "new_event",
    "publish",
    "webhook_payload",
]
