"""An expected ordering race in an event consumer: retry later, quietly.

Events of different producers arrive in any order: billing may hear of a tenant's
usage before its ``tenant.created``. The handler raises a :class:`RetryLater`
subclass; the event actor (``shared.messaging.consumers``) turns it into dramatiq's
``Retry``, which the worker retries with the usual backoff without logging an error
or a traceback (a debug line says why). Retries still run out: an event that never
becomes applicable is dead-lettered as any other.
"""

from __future__ import annotations


class RetryLater(Exception):
    """The event cannot be applied yet (what it depends on has not arrived)."""
