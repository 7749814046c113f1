"""HTTP routes of tenant webhooks, under ``/v1/tenants/{tenant_id}/webhooks``.

Callers: a tenant's ``client_admin`` (own tenant), an API key with the scope
``webhooks:manage`` (its tenant), or staff (``admin``, ``account_manager``) for any
tenant. Another tenant's endpoint or tenant answers 404 like a missing one.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.access import SCHEMA
from services.onboarding.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from services.onboarding.webhooks.schemas import (
    WebhookDelivery as DeliveryOut,
)
from services.onboarding.webhooks.schemas import (
    WebhookEndpoint as EndpointOut,
)
from services.onboarding.webhooks.schemas import (
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)
from services.onboarding.webhooks.service import webhooks
from shared.auth.guards import require_roles, require_scope
from shared.context import Ctx, Role
from shared.http.idempotency import IdempotencyKey
from shared.http.pagination import Page, PageParams
from shared.http.responses import create_once, created_headers, creating

SCOPE = "webhooks:manage"
GUARDS = [
    require_roles(Role.CLIENT_ADMIN, Role.ADMIN, Role.ACCOUNT_MANAGER, allow_api_keys=True),
    require_scope(SCOPE),
]


def endpoint_out(row: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(
        id=row.id,
        tenant_id=row.tenant_id,
        url=row.url,
        description=row.description,
        event_types=list(row.event_types),
        enabled=row.enabled,
        secret_rotated_at=row.secret_rotated_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def endpoint_with_secret(row: WebhookEndpoint) -> WebhookEndpointWithSecret:
    return WebhookEndpointWithSecret(
        id=row.id,
        tenant_id=row.tenant_id,
        url=row.url,
        description=row.description,
        event_types=list(row.event_types),
        enabled=row.enabled,
        secret_rotated_at=row.secret_rotated_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        secret=row.secret,
    )


def delivery_out(row: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        first_attempted_at=row.first_attempted_at,
        last_attempted_at=row.last_attempted_at,
        completed_at=row.completed_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class WebhookEndpointController(Controller):
    path = "/v1/tenants/{tenant_id:uuid}/webhooks"
    tags = ["webhooks"]
    guards = GUARDS

    @post(
        "/",
        operation_id="CreateWebhookEndpoint",
        status_code=HTTP_201_CREATED,
        response_headers=created_headers(),
        responses=creating(),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        ctx: Ctx,
        tenant_id: uuid.UUID,
        data: WebhookEndpointCreate,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[WebhookEndpointWithSecret]:
        """Register an endpoint. The answer shows its signing secret, this once (a replay
        of the same ``Idempotency-Key`` shows it again for 24 hours)."""

        async def make() -> tuple[WebhookEndpointWithSecret, str, uuid.UUID]:
            row = await webhooks.create_endpoint(session, ctx, tenant_id, data)
            location = f"/v1/tenants/{tenant_id}/webhooks/{row.id}"
            return endpoint_with_secret(row), location, row.id

        return await create_once(request, session, ctx, make, schema=SCHEMA)

    @get("/", operation_id="ListWebhookEndpoints")
    async def list_endpoints(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, page_params: PageParams
    ) -> Page[EndpointOut]:
        """The tenant's endpoints, newest first (secrets are never listed)."""
        rows, cursor = await webhooks.list_endpoints(session, ctx, tenant_id, page_params)
        return Page(items=[endpoint_out(r) for r in rows], next_cursor=cursor)

    @get("/{endpoint_id:uuid}", operation_id="GetWebhookEndpoint")
    async def get_endpoint(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> EndpointOut:
        row = await webhooks.get_endpoint(session, ctx, tenant_id, endpoint_id)
        return endpoint_out(row)

    @patch("/{endpoint_id:uuid}", operation_id="UpdateWebhookEndpoint")
    async def update(
        self,
        session: AsyncSession,
        ctx: Ctx,
        tenant_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        data: WebhookEndpointUpdate,
    ) -> EndpointOut:
        """Change the URL, event types, description or ``enabled``."""
        row = await webhooks.update_endpoint(session, ctx, tenant_id, endpoint_id, data)
        return endpoint_out(row)

    @delete(
        "/{endpoint_id:uuid}", operation_id="DeleteWebhookEndpoint", status_code=HTTP_204_NO_CONTENT
    )
    async def remove(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> None:
        """Delete the endpoint and its delivery log; nothing more is sent to it."""
        await webhooks.delete_endpoint(session, ctx, tenant_id, endpoint_id)

    @post(
        "/{endpoint_id:uuid}/rotate-secret",
        operation_id="RotateWebhookSecret",
        status_code=HTTP_200_OK,
    )
    async def rotate_secret(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> WebhookEndpointWithSecret:
        """A new signing secret, shown this once; the old one stops signing at once."""
        row = await webhooks.rotate_secret(session, ctx, tenant_id, endpoint_id)
        return endpoint_with_secret(row)

    @get("/{endpoint_id:uuid}/deliveries", operation_id="ListWebhookDeliveries")
    async def list_deliveries(
        self,
        session: AsyncSession,
        ctx: Ctx,
        tenant_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        page_params: PageParams,
        status: DeliveryStatus | None = Parameter(query="status", default=None, required=False),
    ) -> Page[DeliveryOut]:
        """The endpoint's delivery log, newest first, optionally one status only."""
        rows, cursor = await webhooks.list_deliveries(
            session, ctx, tenant_id, endpoint_id, page_params, status
        )
        return Page(items=[delivery_out(r) for r in rows], next_cursor=cursor)

    @post("/{endpoint_id:uuid}/test", operation_id="TestWebhookEndpoint", status_code=HTTP_200_OK)
    async def send_test(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> DeliveryOut:
        """Send a ``webhook.test`` ping now; answers its delivery (status, code, error)."""
        row = await webhooks.send_test(session, ctx, tenant_id, endpoint_id)
        return delivery_out(row)


WEBHOOK_ROUTE_HANDLERS = [WebhookEndpointController]
"""What ``services/onboarding/app.py`` adds to its ``ROUTE_HANDLERS``."""
