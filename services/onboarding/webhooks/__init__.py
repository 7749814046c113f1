"""Tenant webhooks: endpoints, signed deliveries driven by events, retries, URL safety.

``WEBHOOK_ROUTE_HANDLERS`` is what the onboarding app mounts; the event consumer and
the ``onboarding.deliver_webhook`` actor live in :mod:`.actors`, the retry sweep in
:mod:`.jobs`. Importing this package imports neither (no broker needed to serve HTTP).
"""

from services.onboarding.webhooks.controllers import WEBHOOK_ROUTE_HANDLERS

__all__ = ["WEBHOOK_ROUTE_HANDLERS"]
