"""Pricing's event consumers: the tenant mirror follows ``tenant.*``; the planner's
funnel history follows leads (``lead.received``, ``lead.stage_changed``) and calls
(``task.completed``).

Each handler runs in a staff-scoped transaction once per event id (the inbox); it
applies only facts newer than what the mirror holds, so a repeat or a late event
changes nothing (see :mod:`services.pricing.mirrors.tenants`).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.mirrors.tenants import apply_tenant_facts
from services.pricing.planner import history
from shared.messaging.consumers import on_event
from shared.messaging.events import Envelope

TENANT_EVENTS = ("tenant.created", "tenant.updated", "tenant.status_changed")


@on_event("pricing", *TENANT_EVENTS)
async def on_tenant_event(session: AsyncSession, event: Envelope) -> None:
    """Merge the tenant's facts from any ``tenant.*`` event into ``pricing.tenants``."""
    await apply_tenant_facts(
        session, tenant_id=event.tenant_id, payload=event.payload, occurred_at=event.occurred_at
    )


@on_event("pricing", "lead.received", "lead.stage_changed")
async def on_lead_event(session: AsyncSession, event: Envelope) -> None:
    """The lead's furthest funnel step (personal fields are not read)."""
    payload = event.payload
    if event.tenant_id is None:  # lead events are always a tenant's; nothing to count
        return
    await history.record(
        session,
        tenant_id=event.tenant_id,
        lead_id=uuid.UUID(str(payload["lead_id"])),
        project_id=uuid.UUID(str(payload["project_id"])),
        reached=history.step_of(payload.get("from_stage"), payload.get("to_stage")),
    )


@on_event("pricing", "task.completed")
async def on_task_completed(session: AsyncSession, event: Envelope) -> None:
    """One call made on the lead, its talk time and the step it moved the lead to."""
    payload = event.payload
    if event.tenant_id is None:
        return
    await history.record(
        session,
        tenant_id=event.tenant_id,
        lead_id=uuid.UUID(str(payload["lead_id"])),
        project_id=uuid.UUID(str(payload["project_id"])),
        reached=history.step_of(payload.get("to_stage")),
        attempts=1,
        talk_seconds=int(payload.get("talk_seconds") or 0),
    )
