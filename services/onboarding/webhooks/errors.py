"""Expected failures of tenant webhooks."""

from __future__ import annotations

from shared.errors import NotFound


class WebhookEndpointNotFound(NotFound):
    """Also the answer for another tenant's endpoint: the same body as a missing one."""

    code = "webhook_endpoint_not_found"
    title = "Webhook endpoint not found"
