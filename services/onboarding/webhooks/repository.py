"""Every query of tenant webhooks. Tenant isolation is RLS's job; the filters here
name the tenant as well, so a staff-scope query never strays across tenants either."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.tenants.models import Tenant
from services.onboarding.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

WAITING = (DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value)


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """What one attempt needs, read (and leased) in one short transaction."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    body: str
    url: str
    secret: str


_endpoint_of_delivery = and_(
    WebhookEndpoint.tenant_id == WebhookDelivery.tenant_id,
    WebhookEndpoint.id == WebhookDelivery.endpoint_id,
)


def _due(now: datetime) -> ColumnElement[bool]:
    """A delivery waiting for an attempt whose time has come, to an enabled endpoint."""
    return and_(
        WebhookDelivery.status.in_(WAITING),
        WebhookDelivery.next_attempt_at <= now,
        WebhookEndpoint.enabled.is_(True),
    )


class WebhookRepository:
    async def tenant_exists(self, session: AsyncSession, tenant_id: uuid.UUID) -> bool:
        found = await session.scalar(select(exists().where(Tenant.id == tenant_id)))
        return bool(found)

    def endpoints_of(self, tenant_id: uuid.UUID) -> Select[WebhookEndpoint]:
        return select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id)

    async def get_endpoint(
        self, session: AsyncSession, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> WebhookEndpoint | None:
        return await session.scalar(
            self.endpoints_of(tenant_id).where(WebhookEndpoint.id == endpoint_id)
        )

    async def subscribed_endpoints(
        self, session: AsyncSession, tenant_id: uuid.UUID, event_type: str
    ) -> Sequence[WebhookEndpoint]:
        stmt = self.endpoints_of(tenant_id).where(
            WebhookEndpoint.enabled.is_(True), WebhookEndpoint.event_types.any_() == event_type
        )
        return (await session.scalars(stmt.order_by(WebhookEndpoint.id))).all()

    def deliveries_of(
        self, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> Select[WebhookDelivery]:
        return select(WebhookDelivery).where(
            WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.endpoint_id == endpoint_id
        )

    async def insert_deliveries(
        self, session: AsyncSession, rows: list[dict[str, object]]
    ) -> list[uuid.UUID]:
        """Insert new deliveries; an (endpoint, event) pair already stored is skipped.

        Returns the ids of the rows actually inserted.
        """
        if not rows:
            return []
        stmt = (
            insert(WebhookDelivery)
            .values(rows)
            .on_conflict_do_nothing(constraint="uq_webhook_deliveries_endpoint_event")
            .returning(WebhookDelivery.id)
        )
        return list((await session.scalars(stmt)).all())

    async def claim_due(
        self,
        session: AsyncSession,
        *,
        now: datetime,
        lease_until: datetime,
        limit: int,
        ids: Sequence[uuid.UUID] | None = None,
    ) -> list[DueDelivery]:
        """Lease due deliveries of enabled endpoints (oldest first, at most ``limit``).

        Candidates are read across tenants without locks (``ix_webhook_deliveries_due``);
        then, per tenant, one update leases those still due. The lease moves
        ``next_attempt_at`` to ``lease_until``, so of two sweeps that read the same
        candidates the second finds them no longer due and leaves them: each delivery is
        attempted once. Once this transaction commits no other worker picks them until
        then, and a worker that dies mid-send leaves them to be picked again when the
        lease runs out.
        """
        d, e = WebhookDelivery, WebhookEndpoint
        candidates = await self.due_candidates(session, now=now, limit=limit, ids=ids)
        order = {delivery_id: n for n, (_, delivery_id) in enumerate(candidates)}
        by_tenant: dict[uuid.UUID, list[uuid.UUID]] = {}
        for tenant_id, delivery_id in candidates:
            by_tenant.setdefault(tenant_id, []).append(delivery_id)
        due: list[DueDelivery] = []
        for tenant_id in sorted(by_tenant):
            leased = await session.execute(
                update(d)
                .where(d.tenant_id == tenant_id, d.id.in_(by_tenant[tenant_id]))
                .where(_endpoint_of_delivery, _due(now))
                .values(next_attempt_at=lease_until, updated_at=func.now())
                .returning(
                    d.tenant_id,
                    d.id,
                    d.endpoint_id,
                    d.event_id,
                    d.event_type,
                    d.body,
                    e.url,
                    e.secret,
                )
            )
            due.extend(DueDelivery(*tuple(row)) for row in leased.all())
        return sorted(due, key=lambda x: order[x.id])

    async def due_candidates(
        self,
        session: AsyncSession,
        *,
        now: datetime,
        limit: int,
        ids: Sequence[uuid.UUID] | None = None,
    ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """``(tenant_id, id)`` of due deliveries of enabled endpoints, oldest first: an
        unlocked read (``ix_webhook_deliveries_due``), only candidates for :meth:`claim_due`."""
        d, e = WebhookDelivery, WebhookEndpoint
        stmt = (
            select(d.tenant_id, d.id)
            .join(e, _endpoint_of_delivery)
            .where(_due(now))
            .order_by(d.next_attempt_at)
            .limit(limit)
        )
        if ids is not None:
            stmt = stmt.where(d.id.in_(list(ids)))
        return [(row.tenant_id, row.id) for row in (await session.execute(stmt)).all()]

    async def get_delivery(
        self, session: AsyncSession, tenant_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> WebhookDelivery | None:
        return await session.scalar(
            select(WebhookDelivery)
            .where(WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.id == delivery_id)
            .with_for_update()
        )


repository = WebhookRepository()
