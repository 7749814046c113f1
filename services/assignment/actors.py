"""Assignment's event consumers: the project and lead mirrors, operators, first calls.

Each handler runs in a staff-scoped transaction once per event id (the inbox) and is
safe to run twice: mirrors apply only newer facts, the first call is unique per lead.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment import mirrors
from services.assignment.operators.service import operators
from services.assignment.tasks.service import tasks
from shared.messaging.consumers import on_event
from shared.messaging.events import Envelope

log = logging.getLogger(__name__)

RESCHEDULE_ON = ("calling_window", "status", "priority")


@on_event("assignment", "project.updated")
async def on_project_updated(session: AsyncSession, event: Envelope) -> None:
    """Keep the project copy; when its window, status or priority changed, recompute
    the offer times of its queued tasks."""
    if event.tenant_id is None:
        log.warning("project.updated %s without tenant_id ignored", event.id)
        return
    before, after = await mirrors.apply_project(session, event.tenant_id, event.payload)
    if after is None:
        return
    if before is None or any(getattr(before, f) != getattr(after, f) for f in RESCHEDULE_ON):
        await tasks.reschedule_project(session, after)


@on_event("assignment", "lead.received")
async def on_lead_received(session: AsyncSession, event: Envelope) -> None:
    """Copy the lead and create its first-call task. Should creating the task fail,
    the lead stays without one and the reconciler creates it later."""
    if event.tenant_id is None:
        log.warning("lead.received %s without tenant_id ignored", event.id)
        return
    lead = await mirrors.apply_lead_received(
        session, event.tenant_id, event.payload, occurred_at=event.occurred_at
    )
    if lead.has_task:
        return
    project = await mirrors.get_project(session, lead.tenant_id, lead.project_id)
    try:
        async with session.begin_nested():
            await tasks.create_first_call(session, lead, project)
    except Exception:
        log.exception("assignment: first call for lead %s not created; reconciler will", lead.id)


@on_event("assignment", "lead.erased")
async def on_lead_erased(session: AsyncSession, event: Envelope) -> None:
    """Forget the phone everywhere and cancel the lead's pending tasks."""
    if event.tenant_id is None:
        return
    lead_id = uuid.UUID(str(event.payload["lead_id"]))
    await mirrors.erase_lead(session, event.tenant_id, lead_id)
    await tasks.forget_lead(session, event.tenant_id, lead_id)


@on_event("assignment", "user.created", "user.updated")
async def on_user_event(session: AsyncSession, event: Envelope) -> None:
    """Operators' profiles follow their users (role ``operator``)."""
    await operators.apply_user(session, event.payload)
