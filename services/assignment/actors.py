"""Assignment's event consumers: the project and lead mirrors, operators, first calls,
and the end of calling when a lead's stage is final.

Each handler runs in a staff-scoped transaction once per event id (the inbox) and is
safe to run twice: mirrors apply only newer facts, the first call is unique per lead.
Each reads its event's typed payload (the catalogue's struct): a payload that does not
fit raises, so the event is retried and then dead-lettered, never half-applied.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.mirrors import projects_and_leads as mirrors
from services.assignment.operators.service import operators
from services.assignment.tasks.service import tasks
from shared.funnel import CLOSED
from shared.messaging.consumers import on_event
from shared.messaging.events import (
    Envelope,
    LeadErasedV1,
    LeadReceivedV1,
    LeadStageChangedV1,
    Payload,
    ProjectUpdatedV1,
    UserCreatedV1,
    UserUpdatedV1,
    decode_payload,
)

log = logging.getLogger(__name__)

RESCHEDULE_ON = ("calling_window", "status", "priority")

P = TypeVar("P", bound=Payload)


def payload_of(event: Envelope, struct: type[P]) -> P:
    """The event's payload as its catalogue struct, which must be ``struct``."""
    payload = decode_payload(event)
    if not isinstance(payload, struct):
        raise TypeError(f"{event.type} v{event.version} is not read as {struct.__name__}")
    return payload


@on_event("assignment", "project.updated")
async def on_project_updated(session: AsyncSession, event: Envelope) -> None:
    """Keep the project copy; when its window, status or priority changed, recompute
    the offer times of its queued tasks."""
    if event.tenant_id is None:
        log.warning("project.updated %s without tenant_id ignored", event.id)
        return
    payload = payload_of(event, ProjectUpdatedV1)
    before, after = await mirrors.apply_project(session, event.tenant_id, payload)
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
    payload = payload_of(event, LeadReceivedV1)
    lead = await mirrors.apply_lead_received(
        session, event.tenant_id, payload, occurred_at=event.occurred_at
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
    payload = payload_of(event, LeadErasedV1)
    await mirrors.erase_lead(session, event.tenant_id, payload.lead_id)
    await tasks.forget_lead(session, event.tenant_id, payload.lead_id)


@on_event("assignment", "lead.stage_changed")
async def on_lead_stage_changed(session: AsyncSession, event: Envelope) -> None:
    """A lead reaching a final stage (won, lost, invalid, do not call), from a call or
    from the client, is not called again: its queued and leased tasks are cancelled."""
    if event.tenant_id is None:
        log.warning("lead.stage_changed %s without tenant_id ignored", event.id)
        return
    payload = payload_of(event, LeadStageChangedV1)
    if payload.to_stage not in CLOSED:
        return
    cancelled = await tasks.cancel_for_lead(
        session, event.tenant_id, payload.lead_id, f"lead_{payload.to_stage}"
    )
    if cancelled:
        log.info(
            "lead %s is %s: %d pending task(s) cancelled",
            payload.lead_id,
            payload.to_stage,
            cancelled,
        )


@on_event("assignment", "user.created", "user.updated")
async def on_user_event(session: AsyncSession, event: Envelope) -> None:
    """Operators' profiles follow their users (role ``operator``)."""
    user: UserCreatedV1 | UserUpdatedV1 = (
        payload_of(event, UserCreatedV1)
        if event.type == "user.created"
        else payload_of(event, UserUpdatedV1)
    )
    await operators.apply_user(session, user)
