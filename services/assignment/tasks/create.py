"""Creating a task: the one way a task comes to exist (first calls, dispositions'
next tasks, bulk follow-ups), with its offer times precomputed from the calling window;
and the wake-up after commit when it is ready now."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.assignment.mirrors.projects_and_leads import LeadMirror, ProjectMirror
from services.assignment.tasks import ready, repository
from services.assignment.tasks.claim import utcnow
from services.assignment.tasks.models import Task, TaskStatus
from services.assignment.tasks.scheduling import class_rank, offer_times
from shared.ids import new_id

READY_KEY = "assignment.ready"
"""``session.info`` key: this transaction made work ready (wake waiters after commit)."""


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop(READY_KEY, None):
        ready.mark_dirty()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(READY_KEY, None)


class CreateMixin:
    """Task creation (the base of :class:`~.complete.CompleteMixin` and so of
    :class:`~.service.TaskService`)."""

    async def create(
        self,
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
        window = project.calling_window if project is not None and project.offerable else None
        start, closes = offer_times(window, lead.zones, due_at, now)
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
            priority=project.priority if project is not None else 10,
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
        await self._mark_lead(session, lead)
        if start is not None and start <= now:
            await self._made_ready(session, {lead.tenant_id})
        return task

    async def _mark_lead(self, session: AsyncSession, lead: LeadMirror) -> None:
        if not lead.has_task:
            await session.execute(
                update(LeadMirror)
                .where(LeadMirror.tenant_id == lead.tenant_id, LeadMirror.id == lead.id)
                .values(has_task=True)
            )
            lead.has_task = True

    async def _made_ready(self, session: AsyncSession, tenant_ids: set[uuid.UUID]) -> None:
        session.info[READY_KEY] = True
        await repository.notify_ready(session, tenant_ids)
