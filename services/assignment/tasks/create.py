"""Creating a task: the one way a task comes to exist (first calls, dispositions'
next tasks, bulk follow-ups), with its offer times precomputed from the calling window;
and the wake-up after commit when it is ready now."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.assignment.mirrors import projects_and_leads as mirrors
from services.assignment.mirrors.projects_and_leads import LeadMirror, ProjectMirror
from services.assignment.tasks import ready, repository, routing
from services.assignment.tasks.models import Task, TaskStatus
from services.assignment.tasks.scheduling import class_rank, offer_times, utcnow
from shared.ids import new_id

READY_KEY = "assignment.ready"
"""``session.info`` key: the tenants whose work this transaction made ready (waiters
are woken after commit)."""


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    tenant_ids = session.info.pop(READY_KEY, None)
    if tenant_ids:
        ready.announce(tenant_ids)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(READY_KEY, None)


def dnc_rules() -> Any:
    """The do-not-call service (imported late: it imports this package)."""
    from services.assignment.dnc.service import dnc

    return dnc


def offer(
    project: ProjectMirror | None, zones: list[str], due_at: datetime, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """``(next_allowed_at, window_closes_at)``: tasks of a project that is not active
    (or not known yet) are not offered."""
    window = project.calling_window if project is not None and project.offerable else None
    return offer_times(window, zones, due_at, now)


def priority(project: ProjectMirror | None) -> int:
    """A task's priority (the default while its project is not known to assignment yet)."""
    return project.priority if project is not None else mirrors.DEFAULT_PRIORITY


async def create(
    session: AsyncSession,
    *,
    lead: LeadMirror,
    project: ProjectMirror | None,
    kind: str,
    due_at: datetime,
    attempt: int = 1,
    source_task_id: uuid.UUID | None = None,
    note: str | None = None,
) -> Task:
    """A queued task for ``lead``, its offer times precomputed from the window."""
    now = utcnow()
    start, closes = offer(project, lead.zones, due_at, now)
    task = Task(
        tenant_id=lead.tenant_id,
        id=new_id(),
        project_id=lead.project_id,
        lead_id=lead.id,
        kind=kind,
        class_rank=class_rank(kind),
        status=TaskStatus.QUEUED,
        phone_e164=lead.phone_e164,
        zones=list(lead.zones),
        priority=priority(project),
        attempt=attempt,
        received_at=lead.received_at,
        due_at=due_at,
        next_allowed_at=start,
        window_closes_at=closes,
        lease_count=0,
        source_task_id=source_task_id,
        note=note,
    )
    session.add(task)
    await session.flush()
    await mark_lead(session, lead)
    if start is not None and start <= now:
        await made_ready(session, {lead.tenant_id})
    return task


async def create_first_call(
    session: AsyncSession, lead: LeadMirror, project: ProjectMirror | None
) -> uuid.UUID | None:
    """The lead's one first-call task (a repeat creates nothing); ``None`` when the
    number is on a do-not-call list or the lead was erased."""
    if lead.phone_e164 is None or lead.erased_at is not None:
        await mark_lead(session, lead)
        return None
    if await dnc_rules().is_listed(session, lead.tenant_id, lead.phone_e164):
        await mark_lead(session, lead)
        return None
    now = utcnow()
    start, closes = offer(project, lead.zones, lead.received_at, now)
    kind = routing.TaskKind.FIRST_CALL.value
    inserted = await repository.insert_first_call(
        session,
        tenant_id=lead.tenant_id,
        id=new_id(),
        project_id=lead.project_id,
        lead_id=lead.id,
        kind=kind,
        class_rank=class_rank(kind),
        status=TaskStatus.QUEUED.value,
        phone_e164=lead.phone_e164,
        zones=list(lead.zones),
        priority=priority(project),
        attempt=1,
        received_at=lead.received_at,
        due_at=lead.received_at,
        next_allowed_at=start,
        window_closes_at=closes,
    )
    await mark_lead(session, lead)
    if inserted is not None and start is not None and start <= now:
        await made_ready(session, {lead.tenant_id})
    return inserted


async def mark_lead(session: AsyncSession, lead: LeadMirror) -> None:
    """The lead has a task now (the reconciler looks for leads without one)."""
    if not lead.has_task:
        await mirrors.mark_has_task(session, lead.tenant_id, lead.id)
        lead.has_task = True


async def made_ready(session: AsyncSession, tenant_ids: set[uuid.UUID]) -> None:
    """Work of these tenants is ready now: once the transaction commits, wake this
    process's waiters and publish the wake-up to the others (nothing if it rolls back)."""
    session.info.setdefault(READY_KEY, set()).update(tenant_ids)
