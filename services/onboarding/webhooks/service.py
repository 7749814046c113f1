"""The rules of tenant webhooks: who may manage which endpoints, what is valid, and
which deliveries an event makes. Sending is :mod:`.dispatch`'s (and :mod:`.delivery`'s)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

import msgspec
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.errors import TenantNotFound, WebhookEndpointNotFound
from services.onboarding.webhooks import retry
from services.onboarding.webhooks.addresses import UnsafeUrl, check_url
from services.onboarding.webhooks.delivery import AttemptResult, WebhookSender
from services.onboarding.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from services.onboarding.webhooks.repository import WebhookRepository, repository
from services.onboarding.webhooks.schemas import WebhookEndpointCreate, WebhookEndpointUpdate
from shared.audit.log import record
from shared.config import Settings, get_settings
from shared.context import Ctx
from shared.db.base import utcnow
from shared.errors import FieldError, ValidationFailed
from shared.http.pagination import PageParams, paginate
from shared.ids import new_id
from shared.messaging.events import WEBHOOK_EVENTS, Envelope, webhook_payload

SECRET_PREFIX = "whsec_"
TEST_EVENT = "webhook.test"


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes, URL-safe."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def encode_body(body: dict[str, object]) -> str:
    """The exact JSON text sent (and signed): compact, UTF-8."""
    return msgspec.json.encode(body).decode()


def audit_state(endpoint: WebhookEndpoint) -> dict[str, object]:
    """What the audit log keeps of an endpoint (never its secret)."""
    return {
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
        "description": endpoint.description,
    }


async def audit(
    session: AsyncSession,
    ctx: Ctx,
    action: str,
    endpoint: WebhookEndpoint,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
) -> None:
    await record(
        session,
        ctx,
        action=f"webhook_endpoint.{action}",
        entity="webhook_endpoint",
        entity_id=endpoint.id,
        tenant_id=endpoint.tenant_id,
        before=before,
        after=after,
    )


def apply_outcome(
    delivery: WebhookDelivery, result: AttemptResult, now: datetime
) -> WebhookDelivery:
    """Record one attempt on ``delivery``: succeeded, failed (next attempt set) or dead."""
    delivery.attempts += 1
    delivery.first_attempted_at = delivery.first_attempted_at or now
    delivery.last_attempted_at = now
    delivery.last_status_code = result.status_code
    delivery.last_error = None if result.ok else result.error
    delivery.updated_at = now
    if result.ok:
        delivery.status = DeliveryStatus.SUCCEEDED.value
        delivery.next_attempt_at = None
        delivery.completed_at = now
    elif retry.gives_up(delivery.attempts, delivery.first_attempted_at, now):
        delivery.status = DeliveryStatus.DEAD.value
        delivery.next_attempt_at = None
        delivery.completed_at = now
    else:
        delivery.status = DeliveryStatus.FAILED.value
        delivery.next_attempt_at = now + retry.backoff(delivery.attempts)
    return delivery


class WebhookService:
    """Stateless; ``settings`` and ``sender`` default to the process's own."""

    def __init__(
        self,
        repo: WebhookRepository = repository,
        *,
        settings: Settings | None = None,
        sender: WebhookSender | None = None,
    ) -> None:
        self.repo = repo
        self._settings = settings
        self._sender = sender

    @property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    @property
    def sender(self) -> WebhookSender:
        return self._sender or WebhookSender(self.settings)

    # --- access and validation ---------------------------------------------------------

    async def _authorize(self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID) -> None:
        """A client acts on its own tenant only; staff on any tenant that exists.

        Another tenant's id answers exactly like a missing one.
        """
        if ctx.is_staff:
            if not await self.repo.tenant_exists(session, tenant_id):
                raise TenantNotFound()
        elif ctx.tenant_id != tenant_id:
            raise TenantNotFound()

    async def _endpoint(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> WebhookEndpoint:
        await self._authorize(session, ctx, tenant_id)
        endpoint = await self.repo.get_endpoint(session, tenant_id, endpoint_id)
        if endpoint is None:
            raise WebhookEndpointNotFound()
        return endpoint

    @staticmethod
    def _event_types(types: list[str]) -> list[str]:
        errors = [
            FieldError(
                f"event_types[{i}]",
                "unknown_event_type",
                f"{t!r} is not an event type webhooks can subscribe to "
                f"(one of: {', '.join(WEBHOOK_EVENTS)})",
            )
            for i, t in enumerate(types)
            if t not in WEBHOOK_EVENTS
        ]
        if errors:
            raise ValidationFailed(errors)
        return list(dict.fromkeys(types))  # drop repeats, keep the order given

    async def _url(self, url: str) -> str:
        try:
            await check_url(url, self.settings)
        except UnsafeUrl as exc:
            raise ValidationFailed.one("url", exc.code, exc.message) from None
        return url

    # --- endpoints ---------------------------------------------------------------------

    async def create_endpoint(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, data: WebhookEndpointCreate
    ) -> WebhookEndpoint:
        await self._authorize(session, ctx, tenant_id)
        event_types = self._event_types(data.event_types)
        url = await self._url(data.url)
        now = utcnow()
        endpoint = WebhookEndpoint(
            tenant_id=tenant_id,
            id=new_id(),
            url=url,
            description=data.description,
            event_types=event_types,
            secret=new_secret(),
            enabled=True,
            created_at=now,
            updated_at=now,
        )
        session.add(endpoint)
        await session.flush()
        await audit(session, ctx, "created", endpoint, None, audit_state(endpoint))
        return endpoint

    async def list_endpoints(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, params: PageParams
    ) -> tuple[list[WebhookEndpoint], str | None]:
        await self._authorize(session, ctx, tenant_id)
        rows, cursor = await paginate(
            session,
            self.repo.endpoints_of(tenant_id),
            order_by=(WebhookEndpoint.created_at, WebhookEndpoint.id),
            params=params,
        )
        return list(rows), cursor

    async def get_endpoint(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> WebhookEndpoint:
        return await self._endpoint(session, ctx, tenant_id, endpoint_id)

    async def update_endpoint(
        self,
        session: AsyncSession,
        ctx: Ctx,
        tenant_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        data: WebhookEndpointUpdate,
    ) -> WebhookEndpoint:
        endpoint = await self._endpoint(session, ctx, tenant_id, endpoint_id)
        before = audit_state(endpoint)
        if data.event_types is not UNSET:
            endpoint.event_types = self._event_types(data.event_types)
        if data.url is not UNSET:
            endpoint.url = await self._url(data.url)
        if data.description is not UNSET:
            endpoint.description = data.description
        if data.enabled is not UNSET:
            endpoint.enabled = data.enabled
        endpoint.updated_at = utcnow()
        await session.flush()
        await audit(session, ctx, "updated", endpoint, before, audit_state(endpoint))
        return endpoint

    async def delete_endpoint(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> None:
        """Delete the endpoint and its delivery log (pending deliveries are dropped)."""
        endpoint = await self._endpoint(session, ctx, tenant_id, endpoint_id)
        await audit(session, ctx, "deleted", endpoint, audit_state(endpoint), None)
        await session.delete(endpoint)
        await session.flush()

    async def rotate_secret(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> WebhookEndpoint:
        """A new secret at once; the old one no longer signs anything (no overlap window)."""
        endpoint = await self._endpoint(session, ctx, tenant_id, endpoint_id)
        now = utcnow()
        endpoint.secret = new_secret()
        endpoint.secret_rotated_at = now
        endpoint.updated_at = now
        await session.flush()
        await audit(session, ctx, "secret_rotated", endpoint, None, {"secret_rotated_at": now})
        return endpoint

    # --- deliveries --------------------------------------------------------------------

    async def list_deliveries(
        self,
        session: AsyncSession,
        ctx: Ctx,
        tenant_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        params: PageParams,
        status: DeliveryStatus | None = None,
    ) -> tuple[list[WebhookDelivery], str | None]:
        await self._endpoint(session, ctx, tenant_id, endpoint_id)
        stmt = self.repo.deliveries_of(tenant_id, endpoint_id)
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status.value)
        rows, cursor = await paginate(
            session,
            stmt,
            order_by=(WebhookDelivery.created_at, WebhookDelivery.id),
            params=params,
        )
        return list(rows), cursor

    async def send_test(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> WebhookDelivery:
        """Send a ``webhook.test`` ping now (even to a disabled endpoint) and log it.

        The attempt happens inside the request (its transaction stays open for at most
        the webhook timeout; a manual, rare call); if it fails, the ping is retried on
        the normal schedule like any delivery.
        """
        endpoint = await self._endpoint(session, ctx, tenant_id, endpoint_id)
        now = utcnow()
        event_id = new_id()
        body = encode_body(
            {
                "id": str(event_id),
                "type": TEST_EVENT,
                "version": 1,
                "tenant_id": str(tenant_id),
                "occurred_at": msgspec.to_builtins(now.astimezone(UTC)),
                "payload": {"endpoint_id": str(endpoint.id)},
            }
        )
        delivery = WebhookDelivery(
            tenant_id=tenant_id,
            id=new_id(),
            endpoint_id=endpoint.id,
            event_id=event_id,
            event_occurred_at=now,
            event_type=TEST_EVENT,
            body=body,
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        session.add(delivery)
        await session.flush()
        result = await self.sender.send(
            url=endpoint.url,
            secret=endpoint.secret,
            body=body.encode(),
            event_id=event_id,
            event_type=TEST_EVENT,
        )
        apply_outcome(delivery, result, utcnow())
        await session.flush()
        return delivery

    async def enqueue_for_event(
        self, session: AsyncSession, event: Envelope, *, now: datetime | None = None
    ) -> list[uuid.UUID]:
        """One pending delivery per enabled endpoint of the event's tenant subscribed to
        its type, storing the exact body; repeats of an event add nothing.

        Returns the ids of the deliveries created by this call.
        """
        if event.tenant_id is None or event.type not in WEBHOOK_EVENTS:
            return []
        endpoints = await self.repo.subscribed_endpoints(session, event.tenant_id, event.type)
        if not endpoints:
            return []
        body = encode_body(webhook_payload(event))
        at = now or utcnow()
        rows: list[dict[str, object]] = [
            {
                "tenant_id": event.tenant_id,
                "id": new_id(),
                "endpoint_id": endpoint.id,
                "event_id": event.id,
                "event_occurred_at": event.occurred_at,
                "event_type": event.type,
                "body": body,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
                "updated_at": at,
            }
            for endpoint in endpoints
        ]
        return await self.repo.insert_deliveries(session, rows)


webhooks = WebhookService()
