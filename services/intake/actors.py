"""Intake's actors (queue ``intake``): the event consumers ``intake.on_<event>`` and
the import worker ``intake.process_import``.

Each runs in a staff-scoped transaction once per event id (the inbox) and applies
only what is newer than what intake holds, so a late or repeated event changes
nothing: tenants by ``occurred_at``, projects by ``revision``, leads by the task's
``completed_at`` and attempt (see :mod:`services.intake.leads.service`).

The import worker's message carries only ids; the actor reloads everything and
resumes from the import's last committed batch, so a redelivered or retried message
is harmless. ``enqueue`` is called after the upload's transaction commits; if it fails
(Redis away), the import stays ``queued`` and ``intake.resume_imports`` sends it later.
"""

from __future__ import annotations

import uuid
from typing import cast

import dramatiq
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.imports.worker import process_import
from services.intake.leads.service import leads
from services.intake.mirrors.projects import apply_project_update
from services.intake.mirrors.tenants import apply_tenant_status
from shared.messaging.broker import get_broker
from shared.messaging.consumers import on_event
from shared.messaging.events import Envelope, ProjectUpdatedV1, TaskCompletedV1, decode_payload
from shared.mirrors.tenants import TENANT_EVENTS, status_of, tenant_payload

log = structlog.get_logger(__name__)

# --- event consumers ------------------------------------------------------------------


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


# --- imports: the CSV import worker ---------------------------------------------------

QUEUE = "intake"
TIME_LIMIT_MS = 60 * 60 * 1000
"""A 50 MB file is a few minutes of work; an hour means the run is stuck."""


async def handle(tenant_id: str, import_id: str) -> None:
    """What the actor runs (also callable directly: tests, the dev runner)."""
    status = await process_import(uuid.UUID(tenant_id), uuid.UUID(import_id))
    log.info("intake.import.run_ended", import_id=import_id, status=status)


process_import_actor = dramatiq.actor(
    actor_name="intake.process_import",
    queue_name=QUEUE,
    broker=get_broker(),
    time_limit=TIME_LIMIT_MS,
)(handle)


def enqueue(tenant_id: uuid.UUID, import_id: uuid.UUID) -> None:
    process_import_actor.send(str(tenant_id), str(import_id))
