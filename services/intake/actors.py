"""Intake's event consumers (actors ``intake.on_<event>`` on queue ``intake``).

Each runs in a staff-scoped transaction once per event id (the inbox) and applies
only what is newer than what intake holds, so a late or repeated event changes
nothing: tenants by ``occurred_at``, projects by ``revision``, leads by the task's
``completed_at`` and attempt (see :mod:`services.intake.leads.service`).
"""

from __future__ import annotations

from typing import cast

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.leads.service import leads
from services.intake.mirrors.projects import apply_project_update
from services.intake.mirrors.tenants import apply_tenant_status
from shared.messaging.consumers import on_event
from shared.messaging.events import Envelope, ProjectUpdatedV1, TaskCompletedV1, decode_payload
from shared.mirrors.tenants import status_of, tenant_payload

log = structlog.get_logger(__name__)

TENANT_EVENTS = ("tenant.created", "tenant.updated", "tenant.status_changed")


@on_event("intake", *TENANT_EVENTS)
async def on_tenant_event(session: AsyncSession, event: Envelope) -> None:
    """Follow the tenant's status (``tenant.updated`` carries none: nothing to do)."""
    payload = tenant_payload(event)
    status = status_of(payload)
    if status is None:
        return
    await apply_tenant_status(session, payload.tenant_id, status, event.occurred_at)


@on_event("intake", "project.updated")
async def on_project_updated(session: AsyncSession, event: Envelope) -> None:
    if event.tenant_id is None:
        log.warning("intake.project_event_without_tenant", event_id=str(event.id))
        return
    payload = cast(ProjectUpdatedV1, decode_payload(event))
    await apply_project_update(session, event.tenant_id, payload)


@on_event("intake", "task.completed")
async def on_task_completed(session: AsyncSession, event: Envelope) -> None:
    """Count the attempt and move the lead to the task's ``to_stage``, in order."""
    if event.tenant_id is None:
        log.warning("intake.task_event_without_tenant", event_id=str(event.id))
        return
    payload = cast(TaskCompletedV1, decode_payload(event))
    await leads.apply_task_completed(
        session, event.tenant_id, payload, event_id=event.id, occurred_at=event.occurred_at
    )


import services.intake.imports.actors  # noqa: E402, F401  (intake.process_import)
