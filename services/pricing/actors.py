"""Pricing's event consumers: the tenant mirror follows ``tenant.*``.

Each handler runs in a staff-scoped transaction once per event id (the inbox); it
applies only facts newer than what the mirror holds, so a repeat or a late event
changes nothing (see :mod:`services.pricing.tenants`).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.tenants import apply_tenant_facts
from shared.messaging.consumers import on_event
from shared.messaging.events import Envelope

TENANT_EVENTS = ("tenant.created", "tenant.updated", "tenant.status_changed")


@on_event("pricing", *TENANT_EVENTS)
async def on_tenant_event(session: AsyncSession, event: Envelope) -> None:
    """Merge the tenant's facts from any ``tenant.*`` event into ``pricing.tenants``."""
    await apply_tenant_facts(
        session, tenant_id=event.tenant_id, payload=event.payload, occurred_at=event.occurred_at
    )
