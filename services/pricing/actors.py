"""Pricing's event consumers: the tenant mirror follows ``tenant.*``; the planner's
funnel history follows leads (``lead.received``, ``lead.stage_changed``) and calls
(``task.completed``).

Each handler runs in a staff-scoped transaction once per event id (the inbox); it
applies only facts newer than what the mirror holds, so a repeat or a late event
changes nothing (see :mod:`services.pricing.mirrors.tenants`).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.mirrors.tenants import apply_tenant_facts
from services.pricing.planner import history
from services.pricing.planner import repository as funnel
from shared.messaging.consumers import on_event
from shared.messaging.events import (
    Envelope,
    LeadReceivedV1,
    LeadStageChangedV1,
    TaskCompletedV1,
    decode_payload,
)
from shared.mirrors.tenants import TENANT_EVENTS, tenant_payload


@on_event("pricing", *TENANT_EVENTS)
async def on_tenant_event(session: AsyncSession, event: Envelope) -> None:
    """Merge the tenant's facts from any ``tenant.*`` event into ``pricing.tenants``."""
    await apply_tenant_facts(session, payload=tenant_payload(event), occurred_at=event.occurred_at)


@on_event("pricing", "lead.received", "lead.stage_changed")
async def on_lead_event(session: AsyncSession, event: Envelope) -> None:
    """The lead's furthest funnel step (personal fields are not read)."""
    if event.tenant_id is None:  # lead events are always a tenant's; nothing to count
        return
    payload = decode_payload(event)
    if isinstance(payload, LeadStageChangedV1):
        reached = history.step_of(payload.from_stage, payload.to_stage)
    elif isinstance(payload, LeadReceivedV1):
        reached = history.step_of()
    else:
        raise TypeError(f"{event.type} is not a lead event")
    await funnel.record(
        session,
        tenant_id=event.tenant_id,
        lead_id=payload.lead_id,
        project_id=payload.project_id,
        reached=reached,
    )


@on_event("pricing", "task.completed")
async def on_task_completed(session: AsyncSession, event: Envelope) -> None:
    """One call made on the lead, its talk time and the step it moved the lead to."""
    if event.tenant_id is None:
        return
    payload = cast(TaskCompletedV1, decode_payload(event))
    await funnel.record(
        session,
        tenant_id=event.tenant_id,
        lead_id=payload.lead_id,
        project_id=payload.project_id,
        reached=history.step_of(payload.to_stage),
        attempts=1,
        talk_seconds=payload.talk_seconds,
    )
